#include "output_files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <babygpt/error.hpp>

#include "checkpoint_header.hpp"
#include "errors.hpp"

namespace babygpt_cli {

namespace fs = std::filesystem;

namespace {

/// How a path is compared: its canonical form (existing parts resolved, "." and ".." removed), and the
/// file it names if it exists.
struct FileIdentity {
    std::string canonical;
    bool exists = false;
    dev_t device = 0;
    ino_t inode = 0;
};

FileIdentity identify(const std::string& path) {
    FileIdentity id;
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(fs::absolute(path, ec), ec);
    id.canonical = ec ? fs::absolute(path).lexically_normal().string() : canonical.string();
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0) {
        id.exists = true;
        id.device = info.st_dev;
        id.inode = info.st_ino;
    }
    return id;
}

bool same(const FileIdentity& a, const FileIdentity& b) {
    return a.canonical == b.canonical || (a.exists && b.exists && a.device == b.device && a.inode == b.inode);
}

/// Whether `file` is one of the temporaries written next to `output` (<output>.tmp.<pid>.<n>).
bool is_temporary_of(const FileIdentity& file, const FileIdentity& output) {
    const std::string prefix = output.canonical + ".tmp.";
    return file.canonical.compare(0, prefix.size(), prefix) == 0;
}

bool exists(const std::string& path) {
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0;
}

}  // namespace

RunPaths RunPaths::for_checkpoint(const std::string& model_path) {
    const fs::path p(model_path);
    const std::string stem = (p.parent_path() / p.stem()).string();
    RunPaths paths;
    paths.model = model_path;
    paths.optimizer = stem + ".optim.safetensors";
    paths.csv = stem + ".csv";
    paths.svg = stem + ".svg";
    paths.stats = stem + ".stats.csv";
    paths.lock = stem + ".lock";
    return paths;
}

std::vector<std::pair<std::string, std::string>> RunPaths::outputs() const {
    return {{"the checkpoint", model},
            {"the optimizer state", optimizer},
            {"the optimizer state's backup", optimizer + ".prev"},
            {"the metrics CSV", csv},
            {"the loss plot", svg},
            {"the block statistics", stats},
            {"the lock file", lock}};
}

bool same_file(const std::string& a, const std::string& b) { return same(identify(a), identify(b)); }

void check_outputs_are_safe(const RunPaths& paths, const std::vector<InputFile>& inputs, const std::string& resume_path) {
    const fs::path model(paths.model);
    BABYGPT_CHECK(model.has_filename() && model.filename() != "." && model.filename() != "..", "--out ", paths.model,
                  ": is not a file name; pass the checkpoint file to write, e.g. --out runs/model.safetensors");
    struct stat info {};
    BABYGPT_CHECK(::stat(paths.model.c_str(), &info) != 0 || !S_ISDIR(info.st_mode), "--out ", paths.model,
                  ": is a directory; pass the checkpoint file to write, e.g. --out ", (model / "model.safetensors").string());

    const auto outputs = paths.outputs();
    std::vector<FileIdentity> ids;
    for (const auto& output : outputs) ids.push_back(identify(output.second));

    // Two outputs in one file: --out m.csv makes the checkpoint and the metrics the same file.
    for (std::size_t i = 0; i < outputs.size(); ++i)
        for (std::size_t j = i + 1; j < outputs.size(); ++j)
            BABYGPT_CHECK(!same(ids[i], ids[j]) && !is_temporary_of(ids[i], ids[j]) && !is_temporary_of(ids[j], ids[i]),
                          "--out ", paths.model, ": ", outputs[i].first, " and ", outputs[j].first,
                          " would be the same file (", outputs[j].second,
                          "); pass an --out ending in .safetensors, e.g. --out ",
                          (model.parent_path() / model.stem()).string(), ".safetensors");

    const FileIdentity resumed = resume_path.empty() ? FileIdentity{} : identify(resume_path);
    for (const InputFile& input : inputs) {
        const FileIdentity in = identify(input.path);
        for (std::size_t i = 0; i < outputs.size(); ++i) {
            // The resumed checkpoint is replaced by its own continuation: that is what resuming in place does.
            if (i == 0 && !resume_path.empty() && same(in, resumed) && same(ids[0], resumed)) continue;
            BABYGPT_CHECK(!same(in, ids[i]), outputs[i].first, " ", outputs[i].second, " would replace the ",
                          input.option, " file ", input.path,
                          "; pass --out to write the run elsewhere (e.g. --out runs/model.safetensors)");
            BABYGPT_CHECK(!is_temporary_of(in, ids[i]), "the temporary files of ", outputs[i].first, " (",
                          outputs[i].second, ".tmp.*) could replace the ", input.option, " file ", input.path,
                          "; rename it, or pass --out to write the run elsewhere");
        }
    }
}

void check_no_earlier_run(const RunPaths& paths, bool overwrite, bool resuming_in_place) {
    if (overwrite || resuming_in_place) return;
    if (exists(paths.model)) {
        const auto metadata = read_header_metadata(paths.model);
        const bool checkpoint = metadata && metadata->count("format") && metadata->at("format") == "babygpt-checkpoint";
        if (checkpoint) {
            const auto step = metadata->find("step");
            fail(paths.model, " exists (step ", step != metadata->end() ? step->second : "?",
                                         "); pass --resume ", paths.model, " to continue it, --overwrite to replace it, ",
                                         "or --out to write elsewhere");
        }
        fail(paths.model, " exists and is not a babygpt checkpoint; pass --overwrite to ",
                                     "replace it, or --out to write elsewhere");
    }
    const std::pair<const std::string*, const char*> earlier[] = {
        {&paths.csv, "metrics"}, {&paths.svg, "loss plot"}, {&paths.stats, "block statistics"}};
    for (const auto& [file, what] : earlier)
        BABYGPT_CHECK(!exists(*file), *file, " exists (the ", what,
                      " of an earlier run?); pass --overwrite to replace it, or --out to write elsewhere");
}

OutputDirectory::OutputDirectory(const std::string& file) {
    std::vector<fs::path> missing;
    for (fs::path dir = fs::path(file).parent_path(); !dir.empty() && !fs::exists(dir); dir = dir.parent_path()) {
        missing.push_back(dir);
        if (dir == dir.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        std::error_code ec;
        fs::create_directory(*it, ec);
        BABYGPT_CHECK(!ec, it->string(), ": cannot create the output directory: ", ec.message());
        created_.push_back(it->string());
    }
}

OutputDirectory::~OutputDirectory() {
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) ::rmdir(it->c_str());  // fails if not empty
}

RunLock::RunLock(const RunPaths& paths) : path_(paths.lock) {
    // The lock is on the file's inode; a holder removes the file when it ends. If that happens between
    // our open() and flock(), we hold a lock on a removed file: check that the path still names our
    // file, and start again otherwise.
    for (int attempt = 0; attempt < 100; ++attempt) {
        const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        BABYGPT_CHECK(fd >= 0, path_, ": cannot create the lock file (", std::strerror(errno),
                      "); is the directory of --out writable?");
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            const int error = errno;
            char owner[64] = {};
            const ssize_t n = ::pread(fd, owner, sizeof(owner) - 1, 0);
            ::close(fd);
            std::string pid = n > 0 ? std::string(owner, static_cast<std::size_t>(n)) : "";
            pid = pid.substr(0, pid.find_first_not_of("0123456789"));
            BABYGPT_CHECK(error != EWOULDBLOCK, paths.model, " is being written by another 'babygpt train'",
                          pid.empty() ? "" : " (process " + pid + ")",
                          "; wait for it to finish or stop it, or pass --out to write elsewhere");
            fail(path_, ": cannot lock the file (", std::strerror(error),
                                         "); pass --out to write elsewhere");
        }
        struct stat held {}, named {};
        if (::fstat(fd, &held) == 0 && ::stat(path_.c_str(), &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino) {
            fd_ = fd;
            break;
        }
        ::close(fd);
    }
    BABYGPT_CHECK(fd_ >= 0, path_, ": cannot take the lock (the file keeps being replaced); pass --out to write elsewhere");
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
}

RunLock::~RunLock() {
    ::unlink(path_.c_str());  // before the lock is released, so no one else's lock file is removed
    ::close(fd_);
}

}  // namespace babygpt_cli
