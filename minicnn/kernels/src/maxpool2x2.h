/* minicnn: one output row of a 2x2, stride-2 float32 max pool with SSE2 (_pool.pyx). */
#ifndef MINICNN_MAXPOOL2X2_H
#define MINICNN_MAXPOOL2X2_H
#include <stdint.h>

/* One output row of a 2x2, stride-2 max pool of float32, four outputs at a time: rows r0
   and r1 of the input, y and idx the output row, base the flat index of r0[0]. The same
   scan as the scalar loop (first maximum in the order r0[2j], r0[2j+1], r1[2j], r1[2j+1],
   strict '>'), as SSE2 selects. Returns nonzero when a window holds a NaN: the caller then
   redoes the row with the scalar scan, which lets the first NaN win. x86-64 always has
   SSE2; elsewhere the function does nothing but ask for the scalar scan. */
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
static inline __m128 minicnn_select_ps(__m128 m, __m128 a, __m128 b) {
    return _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b));
}
static inline __m128i minicnn_select_epi32(__m128 m, __m128i a, __m128i b) {
    __m128i mi = _mm_castps_si128(m);
    return _mm_or_si128(_mm_and_si128(mi, a), _mm_andnot_si128(mi, b));
}
static int minicnn_max_pool_row_2x2(const float* r0, const float* r1, float* y,
                                    int64_t* idx, Py_ssize_t OW, Py_ssize_t base,
                                    Py_ssize_t W) {
    Py_ssize_t ow = 0, j;
    const __m128i zero = _mm_setzero_si128(), one = _mm_set1_epi32(1);
    const __m128i down = _mm_set1_epi32((int)W), diag = _mm_set1_epi32((int)W + 1);
    __m128 nan = _mm_setzero_ps();
    for (; ow + 4 <= OW; ow += 4) {
        __m128 p = _mm_loadu_ps(r0 + 2 * ow), q = _mm_loadu_ps(r0 + 2 * ow + 4);
        __m128 a = _mm_shuffle_ps(p, q, _MM_SHUFFLE(2, 0, 2, 0));   /* r0[2j]   */
        __m128 b = _mm_shuffle_ps(p, q, _MM_SHUFFLE(3, 1, 3, 1));   /* r0[2j+1] */
        p = _mm_loadu_ps(r1 + 2 * ow);
        q = _mm_loadu_ps(r1 + 2 * ow + 4);
        __m128 c = _mm_shuffle_ps(p, q, _MM_SHUFFLE(2, 0, 2, 0));   /* r1[2j]   */
        __m128 d = _mm_shuffle_ps(p, q, _MM_SHUFFLE(3, 1, 3, 1));   /* r1[2j+1] */
        __m128 best = a, m;
        __m128i off = zero;
        m = _mm_cmpgt_ps(b, best); best = minicnn_select_ps(m, b, best);
        off = minicnn_select_epi32(m, one, off);
        m = _mm_cmpgt_ps(c, best); best = minicnn_select_ps(m, c, best);
        off = minicnn_select_epi32(m, down, off);
        m = _mm_cmpgt_ps(d, best); best = minicnn_select_ps(m, d, best);
        off = minicnn_select_epi32(m, diag, off);
        nan = _mm_or_ps(nan, _mm_or_ps(_mm_cmpunord_ps(a, b), _mm_cmpunord_ps(c, d)));
        _mm_storeu_ps(y + ow, best);
        /* idx = base + 2*(ow + j) + off, widened to int64 (off >= 0) */
        __m128i start = _mm_set_epi64x(base + 2 * ow + 2, base + 2 * ow);
        _mm_storeu_si128((__m128i*)(idx + ow),
                         _mm_add_epi64(start, _mm_unpacklo_epi32(off, zero)));
        _mm_storeu_si128((__m128i*)(idx + ow + 2),
                         _mm_add_epi64(_mm_add_epi64(start, _mm_set1_epi64x(4)),
                                       _mm_unpackhi_epi32(off, zero)));
    }
    for (; ow < OW; ow++) {                      /* the last 0-3 outputs */
        float v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
        Py_ssize_t o[4] = {0, 1, W, W + 1}, bi = 0;
        for (j = 1; j < 4; j++)
            if (v[j] > v[bi]) bi = j;
        for (j = 0; j < 4; j++)
            if (v[j] != v[j]) return 1;
        y[ow] = v[bi];
        idx[ow] = base + 2 * ow + o[bi];
    }
    return _mm_movemask_ps(nan) != 0;
}
#else
static int minicnn_max_pool_row_2x2(const float* r0, const float* r1, float* y,
                                    int64_t* idx, Py_ssize_t OW, Py_ssize_t base,
                                    Py_ssize_t W) {
    return 1;
}
#endif

#endif  /* MINICNN_MAXPOOL2X2_H */
