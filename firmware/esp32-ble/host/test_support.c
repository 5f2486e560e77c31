#include "test_support.h"

#include <stdio.h>
#include <string.h>

int hex_to_bytes(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p != '\0'; p++) {
        int v;
        if (*p == ' ' || *p == ':') {
            continue;
        }
        if (*p >= '0' && *p <= '9') {
            v = *p - '0';
        } else if (*p >= 'a' && *p <= 'f') {
            v = *p - 'a' + 10;
        } else if (*p >= 'A' && *p <= 'F') {
            v = *p - 'A' + 10;
        } else {
            return -1;
        }
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n == cap) {
            return -1;
        }
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    return hi < 0 ? (int)n : -1;
}

void bytes_to_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0F];
    }
    out[2 * len] = '\0';
}

void assert_bytes_equal_impl(const uint8_t *expected, size_t expected_len, const uint8_t *actual,
                             size_t actual_len, const char *file, int line)
{
    if (expected_len == actual_len && (expected_len == 0 || memcmp(expected, actual, expected_len) == 0)) {
        return;
    }
    char e[1024];
    char a[1024];
    bytes_to_hex(expected, expected_len < 500 ? expected_len : 500, e);
    bytes_to_hex(actual, actual_len < 500 ? actual_len : 500, a);
    print_error("bytes differ\n  expected %s\n  actual   %s\n", e, a);
    _fail(file, line);
}
