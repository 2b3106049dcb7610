#pragma once
// The processes that train one model together (data-parallel training).
//
// Started by mpirun, and built with MPI (CMake option BABYGPT_MPI), the trainer is one rank of N: every
// rank draws the same global batch, computes the gradient of its own share of the rows, the gradients
// are summed across ranks (gradient_sum.hpp), and every rank takes the same optimizer step, so the N
// ranks hold identical parameters throughout. Started any other way, the world is this process alone
// and every collective below returns at once: a single-process run does exactly what it always did.
//
// Collectives (everything but the accessors) must be called by every rank in the same order.

#include <cstddef>
#include <cstdint>
#include <memory>

namespace babygpt_cli {

/// Rows [first, first + count) of a batch: one rank's share.
struct RowShare {
    std::int64_t first = 0;
    std::int64_t count = 0;
};

class World {
public:
    /// Joins mpirun's job if an MPI launcher started this process, otherwise makes a world of one.
    /// Throws if a launcher started several processes but this trainer was built without MPI.
    World(int& argc, char**& argv);
    /// Leaves the job. After an error (`agreed` false) it does not wait for the other ranks, which may be
    /// blocked in a collective: the process just exits, and mpirun ends the others.
    void finish(bool agreed);
    ~World();
    World(const World&) = delete;
    World& operator=(const World&) = delete;

    int rank() const { return rank_; }
    int size() const { return size_; }
    bool is_root() const { return rank_ == 0; }
    /// Ranks on this machine (they share its cores).
    int ranks_on_this_machine() const { return local_size_; }

    /// This rank's contiguous share of `rows` rows (the first rows % size ranks get one more).
    RowShare share_of(std::int64_t rows) const;

    /// data[0, n) on every rank becomes rank 0's.
    void broadcast_from_root(float* data, std::size_t n) const;
    /// data[0, n) on every rank becomes the elementwise sum over ranks (in place, one all-reduce).
    void sum_in_place(float* data, std::size_t n) const;
    double sum(double value) const;
    int max(int value) const;

    // Non-blocking sums, to overlap communication with computation: start_sum() begins summing data[0, n)
    // in place (the buffer must stay untouched until wait_for_sums() returns), progress() lets MPI move
    // the started sums along (it makes progress only inside its calls), wait_for_sums() completes them all.
    void start_sum(float* data, std::size_t n);
    void progress();
    void wait_for_sums();

private:
    int rank_ = 0;
    int size_ = 1;
    int local_size_ = 1;
    bool joined_ = false;  // MPI_Init was called and MPI_Finalize not yet
    struct Pending;
    std::unique_ptr<Pending> pending_;  // the started sums (MPI requests); only with MPI
};

}  // namespace babygpt_cli
