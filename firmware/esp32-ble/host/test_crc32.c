#include "test_support.h"

#include <string.h>

#include "pv/pv_crc32.h"

static void test_check_value(void **state)
{
    (void)state;
    assert_int_equal(pv_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
    assert_int_equal(pv_crc32(NULL, 0), 0u);
}

static void test_incremental_equals_one_shot(void **state)
{
    (void)state;
    uint8_t data[1000];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(i * 7u + 3u);
    }
    const uint32_t whole = pv_crc32(data, sizeof(data));
    for (size_t cut = 0; cut <= sizeof(data); cut += 97) {
        uint32_t crc = pv_crc32_update(0, data, cut);
        crc = pv_crc32_update(crc, &data[cut], sizeof(data) - cut);
        assert_int_equal(crc, whole);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_incremental_equals_one_shot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
