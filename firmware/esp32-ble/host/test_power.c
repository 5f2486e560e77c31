/* The node's power logic: the button's press classes, the hard deadline of a wake, the button's
 * pin against each chip's strapping pins (read from Kconfig.projbuild, the one place it is set). */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pv/pv_board.h"
#include "pv/pv_config.h"
#include "pv/pv_power.h"

static const char *s_kconfig_path;

/* Feeds `held_ms` of pressed samples then released ones, 10 ms apart, until decided. */
static pv_button_action_t press(uint32_t before_ms, uint32_t held_ms)
{
    pv_button_t b;
    pv_button_start(&b);
    uint32_t t = 0;
    for (; t < before_ms; t += 10) {
        if (pv_button_feed(&b, false, 10)) {
            return b.action;
        }
    }
    for (uint32_t h = 0; h < held_ms; h += 10) {
        if (pv_button_feed(&b, true, 10)) {
            return b.action;
        }
    }
    for (int i = 0; i < 1000; i++) {
        if (pv_button_feed(&b, false, 10)) {
            return b.action;
        }
    }
    fail_msg("button never decided");
    return PV_BUTTON_NONE;
}

static void test_button_classes(void **state)
{
    (void)state;
    assert_int_equal(press(0, 0), PV_BUTTON_NONE);          /* timer wake, nobody pressed */
    assert_int_equal(press(0, 20), PV_BUTTON_NONE);         /* a glitch is not a press */
    assert_int_equal(press(0, 200), PV_BUTTON_PAIRING);     /* the press that woke the node */
    assert_int_equal(press(100, 800), PV_BUTTON_PAIRING);   /* seen a little after the wake */
    assert_int_equal(press(0, 4900), PV_BUTTON_PAIRING);
    assert_int_equal(press(0, 5000), PV_BUTTON_CALIBRATION);
    assert_int_equal(press(0, 9000), PV_BUTTON_CALIBRATION);
    assert_int_equal(press(PV_BUTTON_WAIT_MS + 10, 500), PV_BUTTON_NONE); /* too late: next wake */
}

static void test_button_bounce_does_not_end_a_press(void **state)
{
    (void)state;
    pv_button_t b;
    pv_button_start(&b);
    for (int i = 0; i < 300; i++) {
        assert_false(pv_button_feed(&b, true, 10));
    }
    assert_false(pv_button_feed(&b, false, 10)); /* 10 ms open: bounce */
    assert_false(pv_button_feed(&b, false, 10));
    for (int i = 0; i < 200; i++) {
        if (pv_button_feed(&b, true, 10)) {
            break;
        }
    }
    assert_true(b.decided);
    assert_int_equal(b.action, PV_BUTTON_CALIBRATION);
    assert_true(pv_button_feed(&b, false, 10)); /* decided stays decided */
    assert_int_equal(b.action, PV_BUTTON_CALIBRATION);
}

static void test_awake_deadline_covers_every_phase(void **state)
{
    (void)state;
    pv_config_t c;
    pv_config_defaults(&c);
    const uint32_t base = pv_awake_deadline_ms(&c, false, 180, 300, false, false);
    const uint32_t phases = c.advert_burst_count * c.advert_burst_interval_ms +
                            c.connectable_window_s * 1000u + 300u * 1000u;
    assert_true(base > phases);
    assert_true(base <= phases + PV_AWAKE_BOOT_MEASURE_MS + PV_AWAKE_MARGIN_MS);
    /* Pairing swaps the window for the pairing window; a camera and calibration add theirs. */
    assert_int_equal(pv_awake_deadline_ms(&c, true, 180, 300, false, false),
                     base - c.connectable_window_s * 1000u + 180u * 1000u);
    assert_int_equal(pv_awake_deadline_ms(&c, false, 180, 300, true, false), base + PV_AWAKE_CAPTURE_MS);
    assert_int_equal(pv_awake_deadline_ms(&c, false, 180, 300, false, true), base + PV_AWAKE_CALIBRATION_MS);
    /* A longer window moves the deadline with it: the deadline never cuts a configured phase. */
    c.connectable_window_s = 600;
    assert_int_equal(pv_awake_deadline_ms(&c, false, 180, 300, false, false), base + (600u - 30u) * 1000u);
    /* Bounded: even the longest settings give a deadline, never "forever". */
    c.connectable_window_s = 0xFFFF;
    c.advert_burst_count = 20;
    c.advert_burst_interval_ms = 10240;
    assert_true(pv_awake_deadline_ms(&c, true, 0xFFFF, 0xFFFF, true, true) < UINT32_MAX);
    assert_true(PV_INDICATION_TIMEOUT_MS >= 30000u); /* ATT's own transaction timeout */
}

static void test_strapping_and_wake_pins(void **state)
{
    (void)state;
    assert_true(pv_gpio_is_strapping(PV_TARGET_ESP32C3, 9)); /* the old C3 button: BOOT */
    assert_true(pv_gpio_is_strapping(PV_TARGET_ESP32C3, 2));
    assert_true(pv_gpio_is_strapping(PV_TARGET_ESP32C3, 8));
    assert_true(pv_gpio_is_strapping(PV_TARGET_ESP32S3, 0)); /* the old S3 button: BOOT */
    assert_true(pv_gpio_is_strapping(PV_TARGET_ESP32S3, 46));
    assert_false(pv_gpio_is_strapping(PV_TARGET_ESP32C3, 5));
    assert_true(pv_gpio_can_wake(PV_TARGET_ESP32C3, 5));
    assert_false(pv_gpio_can_wake(PV_TARGET_ESP32C3, 9)); /* not an RTC pin on the C3 */
    assert_true(pv_gpio_can_wake(PV_TARGET_ESP32S3, 14));
    assert_false(pv_gpio_can_wake(PV_TARGET_ESP32S3, 41));
}

/* Reads `config NAME`'s "default N if IDF_TARGET_ESP32C3" (c3) and its plain "default N" (s3). */
static void kconfig_defaults(const char *name, int *c3, int *s3)
{
    FILE *f = fopen(s_kconfig_path, "r");
    assert_non_null(f);
    char line[256];
    char want[96];
    snprintf(want, sizeof(want), "config %s", name);
    bool in_block = false;
    *c3 = -1000;
    *s3 = -1000;
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *text = line + strspn(line, " \t");
        if (strncmp(text, "config ", 7) == 0) {
            in_block = strncmp(text, want, strlen(want)) == 0 &&
                       (text[strlen(want)] == '\n' || text[strlen(want)] == '\r' || text[strlen(want)] == '\0');
            continue;
        }
        int value = 0;
        char cond[64] = "";
        if (in_block && sscanf(text, "default %d if %63s", &value, cond) == 2) {
            if (strcmp(cond, "IDF_TARGET_ESP32C3") == 0) {
                *c3 = value;
            }
        } else if (in_block && sscanf(text, "default %d", &value) == 1) {
            *s3 = value;
            if (*c3 == -1000) {
                *c3 = value;
            }
        }
    }
    fclose(f);
    assert_int_not_equal(*s3, -1000);
}

static void test_default_button_pins_work_on_the_boards(void **state)
{
    (void)state;
    int c3 = 0;
    int s3 = 0;
    kconfig_defaults("PV_PIN_BUTTON", &c3, &s3);
    printf("button: GPIO%d on the C3, GPIO%d on the S3\n", c3, s3);
    assert_false(pv_gpio_is_strapping(PV_TARGET_ESP32C3, c3));
    assert_false(pv_gpio_is_strapping(PV_TARGET_ESP32S3, s3));
    assert_true(pv_gpio_can_wake(PV_TARGET_ESP32C3, c3));
    assert_true(pv_gpio_can_wake(PV_TARGET_ESP32S3, s3));
    /* Nor a pin the board already uses. */
    static const char *const used[] = {"PV_PIN_SENSOR_POWER", "PV_PIN_I2C_SDA", "PV_PIN_I2C_SCL"};
    for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++) {
        int uc3 = 0;
        int us3 = 0;
        kconfig_defaults(used[i], &uc3, &us3);
        assert_int_not_equal(uc3, c3);
        assert_int_not_equal(us3, s3);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_power KCONFIG_PROJBUILD\n");
        return 2;
    }
    s_kconfig_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_button_classes),
        cmocka_unit_test(test_button_bounce_does_not_end_a_press),
        cmocka_unit_test(test_awake_deadline_covers_every_phase),
        cmocka_unit_test(test_strapping_and_wake_pins),
        cmocka_unit_test(test_default_button_pins_work_on_the_boards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
