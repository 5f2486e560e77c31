#include "test_support.h"

#include <string.h>

#include "pv/pv_config.h"

#define EXAMPLE_HEX                                                                                \
    "07000000 0104 58020000 020103 03026400 0404e001c003 0502d007 0602401f 0702f401 0802ac0d "    \
    "09021e00 0a042c010000 0b0400000000"

/* protocol.md 3.2 example: revision 7, camera at 08:00 and 16:00, defaults otherwise. */
static void test_example_round_trip(void **state)
{
    (void)state;
    uint8_t in[80], out[80];
    size_t n_out;
    const int n = hex_to_bytes(EXAMPLE_HEX, in, sizeof(in));
    assert_int_equal(n, 55);
    pv_config_t c;
    assert_int_equal(pv_config_decode(in, (size_t)n, &c), PV_OK);
    assert_int_equal(c.revision, 7);
    assert_int_equal(c.camera_time_count, 2);
    assert_int_equal(c.camera_times[0], 480);
    assert_int_equal(c.camera_times[1], 960);
    pv_config_t d;
    pv_config_defaults(&d);
    d.revision = 7;
    d.camera_time_count = 2;
    d.camera_times[0] = 480;
    d.camera_times[1] = 960;
    assert_memory_equal(&c, &d, sizeof(c));
    assert_int_equal(pv_config_encode(&c, out, sizeof(out), &n_out), PV_OK);
    assert_bytes_equal(in, (size_t)n, out, n_out);
}

static void test_absent_types_default_and_unknown_skipped(void **state)
{
    (void)state;
    uint8_t in[32];
    const int n = hex_to_bytes("01000000 7f03aabbcc 020105", in, sizeof(in));
    pv_config_t c, d;
    assert_int_equal(pv_config_decode(in, (size_t)n, &c), PV_OK);
    pv_config_defaults(&d);
    d.revision = 1;
    d.advert_burst_count = 5;
    assert_memory_equal(&c, &d, sizeof(c));
}

static void test_invalid_writes_rejected_and_config_kept(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "010000",                      /* no full revision */
        "01000000 0102 5802",          /* sampling interval with length 2 */
        "01000000 020103 020104",      /* repeated type */
        "01000000 020100",             /* burst count 0 */
        "01000000 020115",             /* burst count 21 */
        "01000000 01040900 0000",      /* sampling interval 9 s */
        "01000000 0404c003e001",       /* camera times not ascending */
        "01000000 0402a005",           /* camera time 1440 */
        "01000000 0403e001c0",         /* odd camera_times length */
        "01000000 0502401f 0602d007",  /* moisture low above high */
        "01000000 0702a00f",           /* temperature low 40.00 > default high */
        "01000000 09025902",           /* connectable window 601 s */
        "01000000 0b042c010000",       /* camera interval 300 s */
        "01000000 0b0481e80900",       /* camera interval 604801 s */
        "01000000 0a04",               /* truncated value */
        "01000000 05",                 /* truncated header */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t in[64];
        const int n = hex_to_bytes(bad[i], in, sizeof(in));
        assert_true(n >= 0);
        pv_config_t c;
        pv_config_defaults(&c);
        c.revision = 99;
        const pv_config_t before = c;
        if (pv_config_decode(in, (size_t)n, &c) == PV_OK) {
            print_error("accepted invalid config %s\n", bad[i]);
            fail();
        }
        assert_memory_equal(&c, &before, sizeof(c));
    }
}

static void test_interval_and_camera_schedule(void **state)
{
    (void)state;
    pv_config_t c;
    pv_config_defaults(&c);
    assert_int_equal(pv_config_next_interval_s(&c, 1, 5000, 1, 2000), 600);
    assert_int_equal(pv_config_next_interval_s(&c, 1, 1500, 1, 2000), 300);
    assert_int_equal(pv_config_next_interval_s(&c, 0, 0, 1, 3600), 300);
    assert_int_equal(pv_config_next_interval_s(&c, 0, 0, 0, 0), 600);
    /* Sampling already faster than the alarm interval: an alarm does not slow the node down. */
    c.sampling_interval_s = 10u;
    assert_int_equal(pv_config_next_interval_s(&c, 1, 1500, 1, 2000), 10);
    assert_int_equal(pv_config_next_interval_s(&c, 1, 5000, 1, 2000), 10);
    c.sampling_interval_s = 600u;
    const uint32_t midnight = 1767225600u; /* 2026-01-01T00:00:00Z */
    assert_int_equal(pv_config_seconds_to_next_capture(&c, midnight, 0), PV_CAPTURE_NEVER);
    assert_false(pv_config_capture_due(&c, midnight, 0));
    c.camera_time_count = 2;
    c.camera_times[0] = 480;
    c.camera_times[1] = 960;
    assert_int_equal(pv_config_seconds_to_next_capture(&c, midnight, 0), 8 * 3600);
    assert_int_equal(pv_config_seconds_to_next_capture(&c, midnight + 12 * 3600, 0), 4 * 3600);
    assert_int_equal(pv_config_seconds_to_next_capture(&c, midnight + 20 * 3600, 0), 12 * 3600);
    /* Due right after 08:00, until captured or an hour late. */
    assert_false(pv_config_capture_due(&c, midnight + 8 * 3600 - 1, 0));
    assert_true(pv_config_capture_due(&c, midnight + 8 * 3600, 0));
    assert_true(pv_config_capture_due(&c, midnight + 8 * 3600 + 600, midnight));
    assert_false(pv_config_capture_due(&c, midnight + 8 * 3600 + 600, midnight + 8 * 3600 + 5));
    assert_false(pv_config_capture_due(&c, midnight + 10 * 3600, 0));
    /* Before 08:00 the latest instant is yesterday's 16:00, long past. */
    assert_false(pv_config_capture_due(&c, midnight + 3600, 0));
    /* Interval: due when never captured, then every 6 h. */
    c.camera_time_count = 0;
    c.camera_interval_s = 21600;
    assert_true(pv_config_capture_due(&c, midnight, 0));
    assert_false(pv_config_capture_due(&c, midnight + 21599, midnight));
    assert_true(pv_config_capture_due(&c, midnight + 21600, midnight));
    assert_int_equal(pv_config_seconds_to_next_capture(&c, midnight + 600, midnight), 21000);
    assert_int_equal(pv_config_seconds_to_next_capture(&c, midnight + 600, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_round_trip),
        cmocka_unit_test(test_absent_types_default_and_unknown_skipped),
        cmocka_unit_test(test_invalid_writes_rejected_and_config_kept),
        cmocka_unit_test(test_interval_and_camera_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
