// RETORT_VECTOR_CLONES: compile a function once per x86-64 vector ISA (AVX-512, AVX2,
// baseline) and let the dynamic loader pick the best one the CPU has (a GNU ifunc).
//
// Why: the default build targets baseline x86-64 so that its binaries run on any x86-64 CPU
// (no -march=native), which leaves compute-bound loops with 4-lane SSE2 and no 32-bit
// integer multiply. The dropout mask's integer hash, for one, runs 8x faster as AVX-512.
// Memory-bound loops gain nothing; leave them alone.
//
// Every clone must give the same bits: the build passes -ffp-contract=off (CMakeLists.txt) so
// that no clone fuses a*b+c into one FMA, and a cloned loop must not reduce floats in vector
// order (`omp simd reduction`), whose grouping depends on the vector width.
#pragma once

#if defined(__x86_64__) && defined(__ELF__) && (defined(__GNUC__) || defined(__clang__))
#define RETORT_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RETORT_VECTOR_CLONES
#endif
