#include "test_support.h"

#include <string.h>

#include "pv/pv_bthome.h"
#include "pv/pv_ccm.h"

static const pv_reading_t k_full = {
    .present = PV_HAS_BATTERY | PV_HAS_TEMPERATURE | PV_HAS_HUMIDITY | PV_HAS_ILLUMINANCE |
               PV_HAS_MOISTURE,
    .battery_pct = 87,
    .temperature_centi_c = 2153,
    .humidity_centi_pct = 4820,
    .illuminance_centi_lux = 123456,
    .moisture_centi_pct = 3675,
};

/* protocol.md 1.4, the Plant-Vita node example. */
static void test_plant_vita_example(void **state)
{
    (void)state;
    uint8_t key[16], mac[6], expected[64], objects[32], sd[32], adv[32];
    size_t n_obj, n_sd, n_adv;
    hex_to_bytes("0f1e2d3c4b5a69788796a5b4c3d2e1f0", key, sizeof(key));
    hex_to_bytes("24:6F:28:1A:2B:3C", mac, sizeof(mac));

    assert_int_equal(pv_bthome_encode_objects(&k_full, objects, sizeof(objects), &n_obj), PV_OK);
    int n = hex_to_bytes("0157 026908 03d412 0540e201 145b0e", expected, sizeof(expected));
    assert_bytes_equal(expected, (size_t)n, objects, n_obj);

    assert_int_equal(pv_bthome_service_data_encrypt(key, mac, PV_BTHOME_DEVINFO_VERSION_2, 1000, objects,
                                                    n_obj, sd, sizeof(sd), &n_sd),
                     PV_OK);
    n = hex_to_bytes("41 e0d6cbbdcd216825672bd63671f0fe e8030000 503db767", expected, sizeof(expected));
    assert_bytes_equal(expected, (size_t)n, sd, n_sd);

    assert_int_equal(pv_adv_build(sd, n_sd, adv, sizeof(adv), &n_adv), PV_OK);
    n = hex_to_bytes("020106 1b16d2fc 41e0d6cbbdcd216825672bd63671f0fee8030000503db767", expected,
                     sizeof(expected));
    assert_int_equal(n_adv, 31);
    assert_bytes_equal(expected, (size_t)n, adv, n_adv);

    pv_bthome_frame_t frame;
    assert_int_equal(pv_bthome_service_data_parse(sd, n_sd, key, mac, &frame), PV_OK);
    assert_int_equal(frame.counter, 1000);
    assert_true(frame.encrypted);
    pv_reading_t back;
    assert_int_equal(pv_bthome_decode_objects(frame.objects, frame.objects_len, &back), PV_OK);
    assert_memory_equal(&back, &k_full, sizeof(back));
}

/* protocol.md 1.4, the official bthome.io example. */
static void test_official_example(void **state)
{
    (void)state;
    uint8_t key[16], mac[6], objects[8], sd[32], expected[32], nonce[13];
    size_t n_sd;
    hex_to_bytes("231d39c1d7cc1ab1aee224cd096db932", key, sizeof(key));
    hex_to_bytes("5448E68F80A5", mac, sizeof(mac));
    const int n_obj = hex_to_bytes("02ca09 03bf13", objects, sizeof(objects));
    pv_bthome_nonce(mac, 0x41, 0x00112233u, nonce);
    int n = hex_to_bytes("5448e68f80a5 d2fc 41 33221100", expected, sizeof(expected));
    assert_bytes_equal(expected, (size_t)n, nonce, sizeof(nonce));
    assert_int_equal(pv_bthome_service_data_encrypt(key, mac, 0x40, 0x00112233u, objects, (size_t)n_obj,
                                                    sd, sizeof(sd), &n_sd),
                     PV_OK);
    n = hex_to_bytes("41 e445f3c9962b 33221100 6c7c4519", expected, sizeof(expected));
    assert_bytes_equal(expected, (size_t)n, sd, n_sd);
}

static void test_wrong_key_and_tamper_rejected(void **state)
{
    (void)state;
    uint8_t key[16] = {1}, other[16] = {2}, mac[6] = {1, 2, 3, 4, 5, 6}, objects[32], sd[32];
    size_t n_obj, n_sd;
    pv_bthome_frame_t frame;
    assert_int_equal(pv_bthome_encode_objects(&k_full, objects, sizeof(objects), &n_obj), PV_OK);
    assert_int_equal(pv_bthome_service_data_encrypt(key, mac, 0x40, 7, objects, n_obj, sd, sizeof(sd),
                                                    &n_sd),
                     PV_OK);
    assert_int_equal(pv_bthome_service_data_parse(sd, n_sd, other, mac, &frame), PV_ERR_AUTH);
    for (size_t i = 1; i < n_sd; i++) {
        sd[i] ^= 0x01;
        assert_int_not_equal(pv_bthome_service_data_parse(sd, n_sd, key, mac, &frame), PV_OK);
        sd[i] ^= 0x01;
    }
    assert_int_equal(pv_bthome_service_data_parse(sd, n_sd, key, mac, &frame), PV_OK);
}

static void test_out_of_range_refused(void **state)
{
    (void)state;
    uint8_t out[32];
    size_t n;
    pv_reading_t r = {.present = PV_HAS_TEMPERATURE, .temperature_centi_c = 8501};
    assert_int_equal(pv_bthome_encode_objects(&r, out, sizeof(out), &n), PV_ERR_RANGE);
    r = (pv_reading_t){.present = PV_HAS_TEMPERATURE, .temperature_centi_c = -4000};
    assert_int_equal(pv_bthome_encode_objects(&r, out, sizeof(out), &n), PV_OK);
    assert_int_equal(n, 3);
    r = (pv_reading_t){.present = PV_HAS_BATTERY, .battery_pct = 101};
    assert_int_equal(pv_bthome_encode_objects(&r, out, sizeof(out), &n), PV_ERR_RANGE);
    r = (pv_reading_t){.present = PV_HAS_ILLUMINANCE, .illuminance_centi_lux = 0x1000000u};
    assert_int_equal(pv_bthome_encode_objects(&r, out, sizeof(out), &n), PV_ERR_RANGE);
    r = (pv_reading_t){.present = PV_HAS_MOISTURE, .moisture_centi_pct = 10001};
    assert_int_equal(pv_bthome_encode_objects(&r, out, sizeof(out), &n), PV_ERR_RANGE);
    r = k_full;
    assert_int_equal(pv_bthome_encode_objects(&r, out, 14, &n), PV_ERR_NO_SPACE);
}

static void test_decode_rejects_truncated_and_unknown(void **state)
{
    (void)state;
    uint8_t in[8];
    pv_reading_t r;
    int n = hex_to_bytes("02ca", in, sizeof(in));
    assert_int_equal(pv_bthome_decode_objects(in, (size_t)n, &r), PV_ERR_MALFORMED);
    n = hex_to_bytes("ff00", in, sizeof(in));
    assert_int_equal(pv_bthome_decode_objects(in, (size_t)n, &r), PV_ERR_MALFORMED);
    n = hex_to_bytes("145b0e 0157", in, sizeof(in)); /* out of order */
    assert_int_equal(pv_bthome_decode_objects(in, (size_t)n, &r), PV_ERR_MALFORMED);
    n = hex_to_bytes("0157 0158", in, sizeof(in)); /* repeated */
    assert_int_equal(pv_bthome_decode_objects(in, (size_t)n, &r), PV_ERR_MALFORMED);
    n = hex_to_bytes("0400e201", in, sizeof(in)); /* pressure: not a Plant-Vita metric */
    assert_int_equal(pv_bthome_decode_objects(in, (size_t)n, &r), PV_ERR_MALFORMED);
}

static void test_plaintext_from_paired_node_is_a_downgrade(void **state)
{
    (void)state;
    uint8_t key[16] = {1}, mac[6] = {1, 2, 3, 4, 5, 6}, objects[32], sd[32];
    size_t n_obj, n_sd;
    pv_bthome_frame_t frame;
    assert_int_equal(pv_bthome_encode_objects(&k_full, objects, sizeof(objects), &n_obj), PV_OK);
    assert_int_equal(pv_bthome_service_data_plain(0x40, objects, n_obj, sd, sizeof(sd), &n_sd), PV_OK);
    assert_int_equal(pv_bthome_service_data_parse(sd, n_sd, NULL, NULL, &frame), PV_OK);
    assert_int_equal(pv_bthome_service_data_parse(sd, n_sd, key, mac, &frame), PV_ERR_AUTH);
    assert_int_equal(pv_bthome_service_data_encrypt(key, mac, 0x40, 9, objects, n_obj, sd, sizeof(sd),
                                                    &n_sd),
                     PV_OK);
    assert_int_equal(pv_bthome_service_data_parse(sd, n_sd, NULL, NULL, &frame), PV_ERR_AUTH);
}

static void test_ccm_empty_payload(void **state)
{
    (void)state;
    uint8_t key[16] = {0}, nonce[13] = {0}, tag[4], plain[1];
    assert_int_equal(pv_ccm_encrypt(key, nonce, NULL, 0, NULL, tag), PV_OK);
    assert_int_equal(pv_ccm_decrypt(key, nonce, NULL, 0, tag, plain), PV_OK);
    tag[0] ^= 1;
    assert_int_equal(pv_ccm_decrypt(key, nonce, NULL, 0, tag, plain), PV_ERR_AUTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plant_vita_example),
        cmocka_unit_test(test_official_example),
        cmocka_unit_test(test_wrong_key_and_tamper_rejected),
        cmocka_unit_test(test_out_of_range_refused),
        cmocka_unit_test(test_decode_rejects_truncated_and_unknown),
        cmocka_unit_test(test_plaintext_from_paired_node_is_a_downgrade),
        cmocka_unit_test(test_ccm_empty_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
