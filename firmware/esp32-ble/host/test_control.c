#include "test_support.h"

#include <string.h>

#include "pv/pv_control.h"

static void check_request(const char *hex, uint8_t opcode, uint32_t seq, uint16_t image_id,
                          uint32_t offset)
{
    uint8_t in[16], out[16];
    size_t n_out;
    const int n = hex_to_bytes(hex, in, sizeof(in));
    pv_cp_request_t req;
    pv_cp_status_t status;
    assert_int_equal(pv_cp_request_decode(in, (size_t)n, &req, &status), PV_OK);
    assert_int_equal(status, PV_CP_SUCCESS);
    assert_int_equal(req.opcode, opcode);
    assert_int_equal(req.seq, seq);
    assert_int_equal(req.image_id, image_id);
    assert_int_equal(req.offset, offset);
    assert_int_equal(pv_cp_request_encode(&req, out, sizeof(out), &n_out), PV_OK);
    assert_bytes_equal(in, (size_t)n, out, n_out);
}

static void test_requests(void **state)
{
    (void)state;
    check_request("01 e8030000", PV_OP_REPORT_SINCE, 1000, 0, 0);
    check_request("02 e9030000", PV_OP_ACK_UPTO, 1001, 0, 0);
    check_request("03", PV_OP_COUNT, 0, 0, 0);
    check_request("04", PV_OP_CAPTURE, 0, 0, 0);
    check_request("05 0000", PV_OP_IMG_LIST, 0, 0, 0);
    check_request("06 0300 00100000", PV_OP_IMG_GET, 0, 3, 4096);
    check_request("07 0300", PV_OP_IMG_DELETE, 0, 3, 0);
    check_request("08", PV_OP_ABORT, 0, 0, 0);
}

static void test_bad_requests(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        pv_cp_status_t status;
    } bad[] = {
        {"", PV_CP_INVALID_PARAMETER},        {"00", PV_CP_UNKNOWN_OPCODE},
        {"09", PV_CP_UNKNOWN_OPCODE},         {"01 e80300", PV_CP_INVALID_PARAMETER},
        {"03 00", PV_CP_INVALID_PARAMETER},   {"06 0300 001000", PV_CP_INVALID_PARAMETER},
        {"06 0000 00000000", PV_CP_INVALID_PARAMETER}, {"07 0000", PV_CP_INVALID_PARAMETER},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t in[16];
        const int n = hex_to_bytes(bad[i].hex, in, sizeof(in));
        pv_cp_request_t req;
        pv_cp_status_t status = PV_CP_SUCCESS;
        assert_int_not_equal(pv_cp_request_decode(in, (size_t)n, &req, &status), PV_OK);
        assert_int_equal(status, bad[i].status);
    }
}

static void check_response(const pv_cp_response_t *rsp, const char *hex)
{
    uint8_t expected[PV_CP_MAX_RESPONSE_LEN], out[PV_CP_MAX_RESPONSE_LEN];
    size_t n_out;
    const int n = hex_to_bytes(hex, expected, sizeof(expected));
    assert_int_equal(pv_cp_response_encode(rsp, out, sizeof(out), &n_out), PV_OK);
    assert_bytes_equal(expected, (size_t)n, out, n_out);
    pv_cp_response_t back;
    assert_int_equal(pv_cp_response_decode(out, n_out, &back), PV_OK);
    assert_memory_equal(&back, rsp, sizeof(back));
}

/* protocol.md 3.4 examples. */
static void test_responses(void **state)
{
    (void)state;
    pv_cp_response_t r;
    memset(&r, 0, sizeof(r));
    r.opcode = PV_OP_COUNT;
    r.count = 42;
    r.oldest_seq = 959;
    r.newest_seq = 1000;
    check_response(&r, "80 03 00 2a000000 bf030000 e8030000");

    memset(&r, 0, sizeof(r));
    r.opcode = PV_OP_REPORT_SINCE;
    r.count = 2;
    r.last_seq = 1001;
    check_response(&r, "80 01 00 02000000 e9030000");

    memset(&r, 0, sizeof(r));
    r.opcode = PV_OP_IMG_LIST;
    r.n_images = 1;
    r.images[0] = (pv_image_entry_t){3, 0x5000, 0x1234abcdu, 1767225600u};
    check_response(&r, "80 05 00 01 00 0300 00500000 cdab3412 00b95569");

    memset(&r, 0, sizeof(r));
    r.opcode = PV_OP_IMG_GET;
    r.status = PV_CP_NOT_FOUND;
    check_response(&r, "80 06 03");

    memset(&r, 0, sizeof(r));
    r.opcode = PV_OP_IMG_GET;
    r.image.image_id = 3;
    r.image.size = 20480;
    r.image.crc32 = 0x1234abcdu;
    check_response(&r, "80 06 00 0300 00500000 cdab3412");

    memset(&r, 0, sizeof(r));
    r.opcode = PV_OP_ACK_UPTO;
    r.remaining = 5;
    check_response(&r, "80 02 00 05000000");

    memset(&r, 0, sizeof(r));
    r.opcode = PV_OP_IMG_DELETE;
    check_response(&r, "80 07 00");
}

static void test_img_list_fit(void **state)
{
    (void)state;
    assert_int_equal(pv_cp_img_list_fit(61), 4);  /* MTU 64 */
    assert_int_equal(pv_cp_img_list_fit(20), 1);  /* MTU 23 */
    assert_int_equal(pv_cp_img_list_fit(244), 17); /* MTU 247 */
    assert_int_equal(pv_cp_img_list_fit(4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_img_list_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
