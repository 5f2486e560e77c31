#include "test_support.h"

#include <string.h>

#include "pv/pv_gatt.h"

static void test_info_example(void **state)
{
    (void)state;
    uint8_t expected[64], out[PV_INFO_MAX_LEN];
    size_t n_out;
    const int n = hex_to_bytes("01 1f00 00000100 00100000 05 312e302e30", expected, sizeof(expected));
    pv_info_t info = {.protocol_version = 1,
                      .capabilities = 0x1F,
                      .max_image_size = 65536,
                      .record_capacity = 4096,
                      .firmware_version = "1.0.0"};
    assert_int_equal(pv_info_encode(&info, out, sizeof(out), &n_out), PV_OK);
    assert_bytes_equal(expected, (size_t)n, out, n_out);
    pv_info_t back;
    expected[n] = 0xAA; /* a later field: ignored */
    assert_int_equal(pv_info_decode(expected, (size_t)n + 1u, &back), PV_OK);
    assert_int_equal(back.protocol_version, 1);
    assert_int_equal(back.capabilities, 0x1F);
    assert_int_equal(back.max_image_size, 65536);
    assert_int_equal(back.record_capacity, 4096);
    assert_string_equal(back.firmware_version, "1.0.0");
    assert_int_equal(pv_info_decode(expected, (size_t)n - 1u, &back), PV_ERR_MALFORMED);
}

static void test_time(void **state)
{
    (void)state;
    uint8_t in[8], out[4];
    uint32_t epoch;
    int n = hex_to_bytes("00b95569", in, sizeof(in));
    assert_int_equal(pv_time_decode(in, (size_t)n, &epoch), PV_OK);
    assert_int_equal(epoch, 1767225600u);
    assert_int_equal(pv_time_encode(epoch, out), PV_OK);
    assert_bytes_equal(in, 4, out, 4);
    n = hex_to_bytes("ffe00b5e", in, sizeof(in)); /* 2019-12-31T23:59:59Z */
    assert_int_equal(pv_time_decode(in, (size_t)n, &epoch), PV_ERR_RANGE);
    assert_int_equal(pv_time_decode(in, 3, &epoch), PV_ERR_MALFORMED);
}

static void test_scan_response_example(void **state)
{
    (void)state;
    uint8_t mac[6], expected[40], out[31];
    size_t n_out;
    char name[10];
    hex_to_bytes("246F281A2B3C", mac, sizeof(mac));
    pv_default_name(mac, name);
    assert_string_equal(name, "PV-1A2B3C");
    const int n = hex_to_bytes("0a09 50562d314132423343 1221 563915131a316bb33546d60801005650 02",
                               expected, sizeof(expected));
    assert_int_equal(pv_scan_response_encode(name, PV_STATUS_IMAGE_READY, out, sizeof(out), &n_out),
                     PV_OK);
    assert_bytes_equal(expected, (size_t)n, out, n_out);
    pv_scan_response_t rsp;
    assert_int_equal(pv_scan_response_decode(out, n_out, &rsp), PV_OK);
    assert_string_equal(rsp.name, "PV-1A2B3C");
    assert_int_equal(rsp.status, PV_STATUS_IMAGE_READY);
}

static void test_scan_response_shortens_whole_utf8_chars(void **state)
{
    (void)state;
    uint8_t out[31];
    size_t n_out;
    pv_scan_response_t rsp;
    /* "Basilikum-\xc3\xa4" is 12 bytes; at most 10 fit, and the 2-byte char must not be split. */
    assert_int_equal(pv_scan_response_encode("Basilikum\xc3\xa4", 0, out, sizeof(out), &n_out), PV_OK);
    assert_int_equal(n_out, 31u - 1u);
    assert_int_equal(pv_scan_response_decode(out, n_out, &rsp), PV_OK);
    assert_string_equal(rsp.name, "Basilikum");
    assert_true(rsp.name_shortened);
    assert_int_equal(pv_scan_response_encode("Tomate-Balkon", 5, out, sizeof(out), &n_out), PV_OK);
    assert_int_equal(n_out, 31);
    assert_int_equal(pv_scan_response_decode(out, n_out, &rsp), PV_OK);
    assert_string_equal(rsp.name, "Tomate-Bal");
    assert_int_equal(rsp.status, 5);
}

static void test_records_example_and_packing(void **state)
{
    (void)state;
    uint8_t expected[32], objects[16], out[61];
    const int n = hex_to_bytes("e8030000 00b95569 0f 015702690803d4120540e201145b0e", expected,
                               sizeof(expected));
    const int n_obj = hex_to_bytes("015702690803d4120540e201145b0e", objects, sizeof(objects));
    size_t used = 0;
    assert_int_equal(pv_records_append(out, sizeof(out), &used, 1000, 1767225600u, objects,
                                       (size_t)n_obj),
                     PV_OK);
    assert_bytes_equal(expected, (size_t)n, out, used);
    /* 61-byte ATT payload (MTU 64): two 24-byte records fit, the third does not. */
    assert_int_equal(pv_records_append(out, sizeof(out), &used, 1001, 0, objects, (size_t)n_obj), PV_OK);
    assert_int_equal(pv_records_append(out, sizeof(out), &used, 1002, 0, objects, (size_t)n_obj),
                     PV_ERR_NO_SPACE);
    assert_int_equal(used, 48);
    size_t off = 0;
    pv_record_view_t rec;
    assert_int_equal(pv_records_next(out, used, &off, &rec), PV_OK);
    assert_int_equal(rec.seq, 1000);
    assert_int_equal(rec.epoch, 1767225600u);
    assert_int_equal(pv_records_next(out, used, &off, &rec), PV_OK);
    assert_int_equal(rec.seq, 1001);
    assert_int_equal(rec.objects_len, 15);
    assert_int_equal(pv_records_next(out, used, &off, &rec), PV_ERR_NOT_FOUND);
    off = 0;
    assert_int_equal(pv_records_next(out, 20, &off, &rec), PV_ERR_MALFORMED);
}

static void test_image_chunk_example(void **state)
{
    (void)state;
    uint8_t expected[16], data[4] = {0xff, 0xd8, 0xff, 0xe0}, out[16];
    size_t n_out;
    const int n = hex_to_bytes("0300 00100000 ffd8ffe0", expected, sizeof(expected));
    assert_int_equal(pv_image_chunk_encode(3, 4096, data, 4, out, sizeof(out), &n_out), PV_OK);
    assert_bytes_equal(expected, (size_t)n, out, n_out);
    pv_image_chunk_t chunk;
    assert_int_equal(pv_image_chunk_decode(out, n_out, &chunk), PV_OK);
    assert_int_equal(chunk.image_id, 3);
    assert_int_equal(chunk.offset, 4096);
    assert_bytes_equal(data, 4, chunk.data, chunk.data_len);
    assert_int_equal(pv_image_chunk_encode(0, 0, data, 4, out, sizeof(out), &n_out), PV_ERR_RANGE);
    assert_int_equal(pv_image_chunk_encode(3, 0, data, 4, out, 9, &n_out), PV_ERR_NO_SPACE);
}

static void test_pairing_string(void **state)
{
    (void)state;
    uint8_t mac[6], key[16];
    char out[PV_PAIRING_URI_MAX];
    hex_to_bytes("246F281A2B3C", mac, sizeof(mac));
    hex_to_bytes("0f1e2d3c4b5a69788796a5b4c3d2e1f0", key, sizeof(key));
    assert_int_equal(pv_pairing_string(mac, key, "PV-1A2B3C", out, sizeof(out)), PV_OK);
    assert_string_equal(out, "PV1:24:6F:28:1A:2B:3C:0f1e2d3c4b5a69788796a5b4c3d2e1f0:PV-1A2B3C");
    assert_int_equal(pv_pairing_string(mac, key, "PV-1A2B3C", out, 40), PV_ERR_NO_SPACE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_example),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_scan_response_example),
        cmocka_unit_test(test_scan_response_shortens_whole_utf8_chars),
        cmocka_unit_test(test_records_example_and_packing),
        cmocka_unit_test(test_image_chunk_example),
        cmocka_unit_test(test_pairing_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
