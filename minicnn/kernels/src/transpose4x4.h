/* minicnn: the 4x4 float32 transpose tile of the channels-last conv kernels (_lowering.pxd). */
#ifndef MINICNN_TRANSPOSE4X4_H
#define MINICNN_TRANSPOSE4X4_H

/* One 4x4 tile of a transpose: b[j*ldb + i] = a[i*lda + j] for i, j in 0..3. x86-64
   always has SSE: four loads, the four-shuffle transpose, four stores. Elsewhere the
   plain loop. */
#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
static inline void minicnn_transpose4x4(const float* a, Py_ssize_t lda,
                                        float* b, Py_ssize_t ldb) {
    __m128 r0 = _mm_loadu_ps(a), r1 = _mm_loadu_ps(a + lda);
    __m128 r2 = _mm_loadu_ps(a + 2 * lda), r3 = _mm_loadu_ps(a + 3 * lda);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(b, r0);
    _mm_storeu_ps(b + ldb, r1);
    _mm_storeu_ps(b + 2 * ldb, r2);
    _mm_storeu_ps(b + 3 * ldb, r3);
}
#else
static inline void minicnn_transpose4x4(const float* a, Py_ssize_t lda,
                                        float* b, Py_ssize_t ldb) {
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            b[j * ldb + i] = a[i * lda + j];
}
#endif

#endif  /* MINICNN_TRANSPOSE4X4_H */
