/* Helpers shared by the host tests. cmocka needs these headers first, in this order. */
#ifndef TEST_SUPPORT_H
#define TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Parse a hex string (spaces allowed) into out; returns the byte count or -1. */
int hex_to_bytes(const char *hex, uint8_t *out, size_t cap);

/* Lower-case hex of bytes into out (2*len+1 chars). */
void bytes_to_hex(const uint8_t *in, size_t len, char *out);

/* Fails the test with both sides in hex when the buffers differ. */
#define assert_bytes_equal(expected, expected_len, actual, actual_len)                              \
    assert_bytes_equal_impl((expected), (expected_len), (actual), (actual_len), __FILE__, __LINE__)
void assert_bytes_equal_impl(const uint8_t *expected, size_t expected_len, const uint8_t *actual,
                             size_t actual_len, const char *file, int line);

#endif
