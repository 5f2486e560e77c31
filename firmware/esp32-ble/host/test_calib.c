#include "test_support.h"

#include "pv/pv_calib.h"

static void test_moisture_mapping(void **state)
{
    (void)state;
    const pv_moisture_calib_t c = PV_MOISTURE_CALIB_DEFAULT; /* dry 2600, wet 1100 */
    uint16_t pct;
    assert_int_equal(pv_moisture_centi_pct(&c, 2600, &pct), PV_OK);
    assert_int_equal(pct, 0);
    assert_int_equal(pv_moisture_centi_pct(&c, 1100, &pct), PV_OK);
    assert_int_equal(pct, 10000);
    assert_int_equal(pv_moisture_centi_pct(&c, 1850, &pct), PV_OK);
    assert_int_equal(pct, 5000);
    assert_int_equal(pv_moisture_centi_pct(&c, 3000, &pct), PV_OK); /* drier than air: clamped */
    assert_int_equal(pct, 0);
    assert_int_equal(pv_moisture_centi_pct(&c, 500, &pct), PV_OK);
    assert_int_equal(pct, 10000);
    const pv_moisture_calib_t inverted = {1000, 2000}; /* a probe that rises with moisture */
    assert_int_equal(pv_moisture_centi_pct(&inverted, 1250, &pct), PV_OK);
    assert_int_equal(pct, 2500);
    const pv_moisture_calib_t flat = {1500, 1450};
    assert_int_equal(pv_moisture_centi_pct(&flat, 1470, &pct), PV_ERR_RANGE);
}

static void test_calib_blob(void **state)
{
    (void)state;
    const pv_moisture_calib_t c = {2710, 1234};
    uint8_t blob[PV_MOISTURE_CALIB_BLOB_LEN];
    pv_moisture_calib_t back;
    assert_int_equal(pv_moisture_calib_encode(&c, blob), PV_OK);
    assert_int_equal(pv_moisture_calib_decode(blob, sizeof(blob), &back), PV_OK);
    assert_int_equal(back.dry_mv, 2710);
    assert_int_equal(back.wet_mv, 1234);
    blob[2] ^= 0x10;
    assert_int_equal(pv_moisture_calib_decode(blob, sizeof(blob), &back), PV_ERR_MALFORMED);
    assert_int_equal(pv_moisture_calib_decode(blob, 8, &back), PV_ERR_MALFORMED);
}

static void test_battery(void **state)
{
    (void)state;
    /* 100k/100k divider: half the cell voltage at the ADC. */
    assert_int_equal(pv_battery_mv_from_divider(2000, 100000, 100000), 4000);
    /* Megaohm divider must not overflow 32 bits. */
    assert_int_equal(pv_battery_mv_from_divider(1400, 2000000, 1000000), 4200);
    assert_int_equal(pv_battery_mv_from_divider(1400, 1, 0), 0);
    assert_int_equal(pv_battery_pct_lipo(4250), 100);
    assert_int_equal(pv_battery_pct_lipo(4200), 100);
    assert_int_equal(pv_battery_pct_lipo(3700), 25);
    assert_int_equal(pv_battery_pct_lipo(3650), 18);
    assert_int_equal(pv_battery_pct_lipo(3300), 0);
    assert_int_equal(pv_battery_pct_lipo(0), 0);
    unsigned prev = 0;
    for (uint32_t mv = 3000; mv <= 4300; mv += 5) {
        const unsigned pct = pv_battery_pct_lipo(mv);
        assert_true(pct >= prev);
        prev = pct;
    }
}

static void test_sht3x(void **state)
{
    (void)state;
    /* Datasheet CRC example: 0xBEEF -> 0x92. */
    const uint8_t word[2] = {0xBE, 0xEF};
    assert_int_equal(pv_sht3x_crc8(word), 0x92);
    /* raw T 0x6666 = 26214 -> -45 + 175*0.4 = 25.00 C; raw RH 0x8000 -> 50.00 %. */
    uint8_t frame[6] = {0x66, 0x66, 0, 0x80, 0x00, 0};
    frame[2] = pv_sht3x_crc8(&frame[0]);
    frame[5] = pv_sht3x_crc8(&frame[3]);
    int16_t t;
    uint16_t rh;
    assert_int_equal(pv_sht3x_convert(frame, &t, &rh), PV_OK);
    assert_int_equal(t, 2500);
    assert_int_equal(rh, 5000);
    frame[0] = 0;
    frame[1] = 0;
    frame[2] = pv_sht3x_crc8(&frame[0]);
    assert_int_equal(pv_sht3x_convert(frame, &t, &rh), PV_OK);
    assert_int_equal(t, -4500);
    frame[5] ^= 1;
    assert_int_equal(pv_sht3x_convert(frame, &t, &rh), PV_ERR_MALFORMED);
}

static void test_bh1750(void **state)
{
    (void)state;
    assert_int_equal(pv_bh1750_centi_lux(0), 0);
    assert_int_equal(pv_bh1750_centi_lux(120), 10000);
    assert_int_equal(pv_bh1750_centi_lux(65535), 5461250);
}

/* The C3's ADC clips at 2.5 V while a dry probe gives up to 2.8 V: without a divider a dry reading
 * is unknowable (left out, never a wrong number); with the 100k/330k divider it is measured. */
static void test_c3_dry_probe_is_not_clipped_through_the_divider(void **state)
{
    (void)state;
    const pv_moisture_calib_t factory = PV_MOISTURE_CALIB_DEFAULT; /* dry 2600 mV at the probe */
    uint16_t pct = 1234;
    /* No divider: a dry probe pins the C3's ADC at its top and its calibration cannot fit. */
    assert_true(pv_adc_clipped(PV_TARGET_ESP32C3, 2500));
    assert_int_equal(pv_moisture_calib_fits_adc(&factory, PV_TARGET_ESP32C3, 0, 0), PV_ERR_RANGE);
    assert_int_equal(pv_moisture_from_adc(&factory, PV_TARGET_ESP32C3, 2500, 0, 0, &pct), PV_ERR_RANGE);
    assert_int_equal(pct, 1234);
    /* The S3 measures the same probe directly. */
    assert_int_equal(pv_moisture_calib_fits_adc(&factory, PV_TARGET_ESP32S3, 0, 0), PV_OK);
    assert_int_equal(pv_moisture_from_adc(&factory, PV_TARGET_ESP32S3, 2600, 0, 0, &pct), PV_OK);
    assert_int_equal(pct, 0);
    /* C3 with the divider: 2,800 mV at the probe is 2,149 mV at the pin, well inside the range. */
    assert_int_equal(pv_moisture_calib_fits_adc(&factory, PV_TARGET_ESP32C3, 100000, 330000), PV_OK);
    const uint16_t pin_mv = 2149;
    assert_false(pv_adc_clipped(PV_TARGET_ESP32C3, pin_mv));
    assert_in_range(pv_probe_mv_from_adc(pin_mv, 100000, 330000), 2798, 2802);
    assert_int_equal(pv_moisture_from_adc(&factory, PV_TARGET_ESP32C3, pin_mv, 100000, 330000, &pct), PV_OK);
    assert_int_equal(pct, 0);
    /* Half way between dry and wet at the probe (1,850 mV) is 1,420 mV at the pin: 50 %. */
    assert_int_equal(pv_moisture_from_adc(&factory, PV_TARGET_ESP32C3, 1420, 100000, 330000, &pct), PV_OK);
    assert_in_range(pct, 4950, 5050);
    /* A clipped pin with a calibration that fits still reads "at least as dry": 0 %. */
    assert_int_equal(pv_moisture_from_adc(&factory, PV_TARGET_ESP32C3, 2490, 100000, 330000, &pct), PV_OK);
    assert_int_equal(pct, 0);
    /* Each chip's own fallback full scale, not the S3's 3,100 mV on the C3. */
    assert_int_equal(pv_adc_nominal_full_scale_mv(PV_TARGET_ESP32C3), 2500);
    assert_int_equal(pv_adc_nominal_full_scale_mv(PV_TARGET_ESP32S3), 3100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moisture_mapping),
        cmocka_unit_test(test_calib_blob),
        cmocka_unit_test(test_battery),
        cmocka_unit_test(test_sht3x),
        cmocka_unit_test(test_bh1750),
        cmocka_unit_test(test_c3_dry_probe_is_not_clipped_through_the_divider),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
