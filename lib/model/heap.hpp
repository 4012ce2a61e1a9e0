#pragma once
// The process heap of a binary that runs the model. Every forward (and backward) allocates and
// frees tensors of tens to hundreds of megabytes: attention scores, their softmax and, in training,
// their gradients. glibc serves each such block with its own mmap and returns it with munmap, so
// every step page-faults that memory in afresh. Measured on the miniature's student (2 cores,
// fp32): 12 vs-sft steps 31.5-33.7 s (23 s of it kernel time) against 17.4-18.0 s (1.7 s) with the
// freed blocks kept; 16 vs-policy records 8.1 s against 6.8 s (bench/RESULTS.md, 2026-12-02).

namespace vstar::model {

// Makes glibc keep freed memory in the heap for the next step (no mmap for large blocks, no trim of
// the heap's top), unless the user tuned glibc's allocator through the environment (GLIBC_TUNABLES
// with glibc.malloc.*, MALLOC_MMAP_MAX_, MALLOC_TRIM_THRESHOLD_), which then wins. The price: the
// peak heap stays resident until exit (vs-sft above: 1.57 GB peak RSS against 0.88 GB). Returns
// whether the policy was applied (false: not glibc, or tuned by the environment). Call it once, at
// the start of main.
bool RetainFreedMemory();

}  // namespace vstar::model
