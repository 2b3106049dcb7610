#pragma once
// The files a training run writes, and the rules that keep them from destroying anything: no output
// may be an input or another output, an existing run is only replaced on request, and two trainers
// never write the same run at once.

#include <string>
#include <vector>

namespace babygpt_cli {

/// runs/name.safetensors -> runs/name.optim.safetensors, runs/name.csv, runs/name.svg, runs/name.lock
struct RunPaths {
    std::string model, optimizer, csv, svg, stats, lock;  // stats: --log-stats's CSV
    static RunPaths for_checkpoint(const std::string& model_path);
    /// Every file a run may create, with what it is: the files above, the optimizer's backup
    /// (<optimizer>.prev, see save_checkpoint) and the lock file. Temporaries are <file>.tmp.*.
    std::vector<std::pair<std::string, std::string>> outputs() const;
};

/// A file the run reads: the option that names it and its path (e.g. {"--data", "d/x.txt"}).
struct InputFile {
    std::string option;
    std::string path;
};

/// Throws babygpt::Error if an output of `paths` (or one of its temporaries) is the same file as an
/// input, or two outputs are the same file. "The same" compares canonical paths (./x and x, symbolic
/// links) and, for files that exist, device and inode (hard links). An input that is the checkpoint
/// itself is allowed when it is `resume_path` (the run continues that checkpoint in place).
void check_outputs_are_safe(const RunPaths& paths, const std::vector<InputFile>& inputs, const std::string& resume_path);

/// Whether `a` and `b` name the same file (as check_outputs_are_safe compares them).
bool same_file(const std::string& a, const std::string& b);

/// Throws babygpt::Error if the run would replace an earlier run's files: the checkpoint (the message
/// gives its step and the three ways on), the metrics CSV or the plot. `overwrite` (--overwrite) allows
/// it; a run resuming its own checkpoint in place replaces them anyway.
void check_no_earlier_run(const RunPaths& paths, bool overwrite, bool resuming_in_place);

/// Creates the directories missing on the way to `file` and, when it goes, removes those it created
/// if they are still empty (so that a run refused after this point leaves nothing behind).
class OutputDirectory {
public:
    explicit OutputDirectory(const std::string& file);
    ~OutputDirectory();
    OutputDirectory(const OutputDirectory&) = delete;
    OutputDirectory& operator=(const OutputDirectory&) = delete;

private:
    std::vector<std::string> created_;  // outermost first
};

/// An advisory lock (flock) on the run's lock file, held while the run writes its files; a second
/// trainer writing the same checkpoint is refused with the first one's process id. The file is removed
/// when the lock goes; one left by a killed process is harmless (the kernel released its lock).
class RunLock {
public:
    explicit RunLock(const RunPaths& paths);
    ~RunLock();
    RunLock(const RunLock&) = delete;
    RunLock& operator=(const RunLock&) = delete;

private:
    std::string path_;
    int fd_ = -1;
};

}  // namespace babygpt_cli
