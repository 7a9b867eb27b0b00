/* minicnn: its own float32 GEMM for products with a small side (_gemm.pxd, _conv.pyx). */
#ifndef MINICNN_SGEMM_AVX2_H
#define MINICNN_SGEMM_AVX2_H

/* C[i*ldc + j] (+)= sum_p A[i*sa + p*sp] * B[p*ldb + j] for i < m, j < n, p < k: float32,
   all row-major, A read through two strides (so A or its transpose). n % 8 == 0.

   Each C tile of 6 rows x 16 columns is twelve AVX registers; for p = 0 .. k-1 in order,
   the 16 numbers of row p of B are loaded once and each of the 6 numbers A(i, p)
   broadcast and fused-multiply-added into its row (one rounding per term, the terms
   summed in the order of p). Leftover rows go one at a time, a leftover 8 columns 8 at a
   time, in the same order. No packing: the point is products with a small side (few
   output channels), where BLAS's packing of A and B costs more than it saves.

   The functions are compiled for AVX2 and FMA whatever the build's flags
   (target attribute), and only called when the CPU has both (minicnn_cpu_has_avx2_fma).
   Other compilers and CPUs get stubs and BLAS. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define MINICNN_AVX2 __attribute__((target("avx2,fma")))
static int minicnn_cpu_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
MINICNN_AVX2 static inline void minicnn_store_row(float* c, __m256 x0, __m256 x1,
                                                   int accumulate) {
    if (accumulate) {
        x0 = _mm256_add_ps(_mm256_loadu_ps(c), x0);
        x1 = _mm256_add_ps(_mm256_loadu_ps(c + 8), x1);
    }
    _mm256_storeu_ps(c, x0);
    _mm256_storeu_ps(c + 8, x1);
}
MINICNN_AVX2 static void minicnn_tile_6x16(int k, const float* A, Py_ssize_t sa,
                                           Py_ssize_t sp, const float* B, Py_ssize_t ldb,
                                           float* C, Py_ssize_t ldc, int accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00;
    __m256 c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int p = 0; p < k; p++) {
        const float* a = A + p * sp;
        __m256 b0 = _mm256_loadu_ps(B + p * ldb), b1 = _mm256_loadu_ps(B + p * ldb + 8);
        __m256 ai = _mm256_broadcast_ss(a);
        c00 = _mm256_fmadd_ps(ai, b0, c00); c01 = _mm256_fmadd_ps(ai, b1, c01);
        ai = _mm256_broadcast_ss(a + sa);
        c10 = _mm256_fmadd_ps(ai, b0, c10); c11 = _mm256_fmadd_ps(ai, b1, c11);
        ai = _mm256_broadcast_ss(a + 2 * sa);
        c20 = _mm256_fmadd_ps(ai, b0, c20); c21 = _mm256_fmadd_ps(ai, b1, c21);
        ai = _mm256_broadcast_ss(a + 3 * sa);
        c30 = _mm256_fmadd_ps(ai, b0, c30); c31 = _mm256_fmadd_ps(ai, b1, c31);
        ai = _mm256_broadcast_ss(a + 4 * sa);
        c40 = _mm256_fmadd_ps(ai, b0, c40); c41 = _mm256_fmadd_ps(ai, b1, c41);
        ai = _mm256_broadcast_ss(a + 5 * sa);
        c50 = _mm256_fmadd_ps(ai, b0, c50); c51 = _mm256_fmadd_ps(ai, b1, c51);
    }
    minicnn_store_row(C, c00, c01, accumulate);
    minicnn_store_row(C + ldc, c10, c11, accumulate);
    minicnn_store_row(C + 2 * ldc, c20, c21, accumulate);
    minicnn_store_row(C + 3 * ldc, c30, c31, accumulate);
    minicnn_store_row(C + 4 * ldc, c40, c41, accumulate);
    minicnn_store_row(C + 5 * ldc, c50, c51, accumulate);
}
MINICNN_AVX2 static void minicnn_sgemm_avx2(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                                            const float* A, Py_ssize_t sa, Py_ssize_t sp,
                                            const float* B, Py_ssize_t ldb, float* C,
                                            Py_ssize_t ldc, int accumulate) {
    Py_ssize_t i, j, p;
    for (j = 0; j + 16 <= n; j += 16) {
        for (i = 0; i + 6 <= m; i += 6)
            minicnn_tile_6x16((int)k, A + i * sa, sa, sp, B + j, ldb, C + i * ldc + j,
                              ldc, accumulate);
        for (; i < m; i++) {                      /* the last 0-5 rows: 1 x 16 */
            __m256 x0 = _mm256_setzero_ps(), x1 = x0;
            for (p = 0; p < k; p++) {
                __m256 ai = _mm256_broadcast_ss(A + i * sa + p * sp);
                x0 = _mm256_fmadd_ps(ai, _mm256_loadu_ps(B + p * ldb + j), x0);
                x1 = _mm256_fmadd_ps(ai, _mm256_loadu_ps(B + p * ldb + j + 8), x1);
            }
            minicnn_store_row(C + i * ldc + j, x0, x1, accumulate);
        }
    }
    for (; j < n; j += 8)                          /* the last 8 columns: 1 x 8 */
        for (i = 0; i < m; i++) {
            __m256 x0 = _mm256_setzero_ps();
            for (p = 0; p < k; p++)
                x0 = _mm256_fmadd_ps(_mm256_broadcast_ss(A + i * sa + p * sp),
                                     _mm256_loadu_ps(B + p * ldb + j), x0);
            if (accumulate)
                x0 = _mm256_add_ps(_mm256_loadu_ps(C + i * ldc + j), x0);
            _mm256_storeu_ps(C + i * ldc + j, x0);
        }
}
#else
static int minicnn_cpu_has_avx2_fma(void) { return 0; }
static void minicnn_sgemm_avx2(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* A,
                               Py_ssize_t sa, Py_ssize_t sp, const float* B,
                               Py_ssize_t ldb, float* C, Py_ssize_t ldc, int accumulate) {}
#endif

#endif  /* MINICNN_SGEMM_AVX2_H */
