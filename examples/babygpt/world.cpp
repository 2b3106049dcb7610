#include "world.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include <babygpt/error.hpp>

#ifdef BABYGPT_WITH_MPI
#include <mpi.h>
#endif

namespace babygpt_cli {

namespace {

/// The number of processes an MPI launcher started, from the variables it sets (Open MPI's mpirun,
/// MPICH's and Slurm's PMI); 0 when none did.
int launcher_world_size() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
        if (const char* value = std::getenv(name)) return std::max(1, std::atoi(value));
    return std::getenv("PMIX_RANK") ? 1 : 0;  // PMIx names the rank only; the size comes from MPI_Init
}

}  // namespace

RowShare World::share_of(std::int64_t rows) const {
    const std::int64_t base = rows / size_, extra = rows % size_, r = rank_;
    return {r * base + std::min(r, extra), base + (r < extra ? 1 : 0)};
}

#ifdef BABYGPT_WITH_MPI

struct World::Pending {
    std::vector<MPI_Request> requests;
};

namespace {

/// MPI counts are ints: a buffer of more than INT_MAX elements goes in pieces.
template <typename Call>
void in_pieces(float* data, std::size_t n, Call&& call) {
    constexpr std::size_t piece = std::size_t(1) << 30;
    for (std::size_t done = 0; done < n; done += piece) call(data + done, static_cast<int>(std::min(piece, n - done)));
}

}  // namespace

World::World(int& argc, char**& argv) {
    if (launcher_world_size() == 0) return;  // not started by mpirun: a world of one, MPI untouched
    int provided = 0;
    // FUNNELED: only the main thread calls MPI (the OpenMP threads only compute).
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    joined_ = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm machine;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &machine);
    MPI_Comm_size(machine, &local_size_);
    MPI_Comm_free(&machine);
    pending_ = std::make_unique<Pending>();
}

void World::finish(bool agreed) {
    if (!joined_) return;
    joined_ = false;
    if (!agreed) return;  // MPI_Finalize would wait for ranks that may never come; mpirun ends them
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
}

World::~World() {
    if (joined_) finish(true);
}

void World::broadcast_from_root(float* data, std::size_t n) const {
    if (size_ == 1) return;
    in_pieces(data, n, [](float* part, int count) { MPI_Bcast(part, count, MPI_FLOAT, 0, MPI_COMM_WORLD); });
}

void World::sum_in_place(float* data, std::size_t n) const {
    if (size_ == 1) return;
    in_pieces(data, n, [](float* part, int count) {
        MPI_Allreduce(MPI_IN_PLACE, part, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    });
}

double World::sum(double value) const {
    if (size_ > 1) MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return value;
}

int World::max(int value) const {
    if (size_ > 1) MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return value;
}

void World::start_sum(float* data, std::size_t n) {
    if (size_ == 1) return;
    in_pieces(data, n, [this](float* part, int count) {
        MPI_Request request;
        MPI_Iallreduce(MPI_IN_PLACE, part, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request);
        pending_->requests.push_back(request);
    });
}

void World::progress() {
    if (size_ == 1 || pending_->requests.empty()) return;
    int all_done = 0;
    MPI_Testall(static_cast<int>(pending_->requests.size()), pending_->requests.data(), &all_done, MPI_STATUSES_IGNORE);
    if (all_done) pending_->requests.clear();
}

void World::wait_for_sums() {
    if (size_ == 1 || pending_->requests.empty()) return;
    MPI_Waitall(static_cast<int>(pending_->requests.size()), pending_->requests.data(), MPI_STATUSES_IGNORE);
    pending_->requests.clear();
}

#else  // built without MPI: always a world of one

struct World::Pending {};

World::World(int&, char**&) {
    const int launched = launcher_world_size();
    BABYGPT_CHECK(launched <= 1, "mpirun started ", launched, " processes, but this babygpt was built without MPI; "
                  "build it with Open MPI installed (apt-get install libopenmpi-dev openmpi-bin) and the CMake option "
                  "BABYGPT_MPI on (the default), or run it without mpirun");
}

void World::finish(bool) {}
World::~World() = default;
void World::broadcast_from_root(float*, std::size_t) const {}
void World::sum_in_place(float*, std::size_t) const {}
double World::sum(double value) const { return value; }
int World::max(int value) const { return value; }
void World::start_sum(float*, std::size_t) {}
void World::progress() {}
void World::wait_for_sums() {}

#endif

}  // namespace babygpt_cli
