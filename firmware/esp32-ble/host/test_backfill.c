#include "test_support.h"

#include <string.h>

#include "flash_sim.h"
#include "pv/pv_backfill.h"
#include "pv/pv_gatt.h"
#include "pv/pv_ring.h"
#include "ring_workload.h"

#define SECTOR 1024u
#define SECTORS 4u

static uint8_t g_mem[SECTOR * SECTORS];

/* Runs a whole REPORT_SINCE into notifications of `cap` bytes; returns the seqs in order. */
static size_t report_since(pv_ring_t *ring, uint32_t since, size_t cap, uint32_t *seqs, size_t max,
                           pv_backfill_t *state)
{
    uint8_t note[256];
    size_t n = 0;
    size_t used = 0;
    pv_backfill_start(state, since);
    pv_status_t st;
    while ((st = pv_backfill_next(ring, state, note, cap, &used)) == PV_OK) {
        assert_true(used > 0 && used <= cap);
        size_t off = 0;
        pv_record_view_t rec;
        pv_status_t rs;
        size_t in_note = 0;
        while ((rs = pv_records_next(note, used, &off, &rec)) == PV_OK) {
            pv_ring_record_t as_ring = {.seq = rec.seq, .epoch = rec.epoch, .len = rec.objects_len};
            memcpy(as_ring.data, rec.objects, rec.objects_len);
            assert_true(workload_matches(&as_ring));
            assert_true(n < max);
            seqs[n++] = rec.seq;
            in_note++;
        }
        assert_int_equal(rs, PV_ERR_NOT_FOUND);
        assert_true(in_note > 0);
    }
    assert_int_equal(st, PV_ERR_NOT_FOUND);
    assert_int_equal(used, 0);
    return n;
}

static void test_report_since_sends_every_pending_record_once_in_order(void **state)
{
    (void)state;
    flash_sim_t sim;
    pv_ring_t ring;
    flash_sim_init(&sim, g_mem, SECTOR, SECTORS, 1);
    assert_int_equal(pv_ring_open(&ring, &sim.ops), PV_OK);
    for (uint32_t seq = 1; seq <= 60; seq++) {
        assert_int_equal(workload_append(&ring, seq), PV_OK);
    }
    assert_int_equal(pv_ring_ack_upto(&ring, 10), PV_OK);

    static const size_t caps[] = {41, 61, 244}; /* MTU 44, 64, 247 */
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        uint32_t seqs[128];
        pv_backfill_t st;
        const size_t n = report_since(&ring, 0, caps[c], seqs, 128, &st);
        assert_int_equal(n, 50);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(seqs[i], 11 + i);
        }
        assert_int_equal(st.count, 50);
        assert_int_equal(st.last_seq, 60);

        const size_t m = report_since(&ring, 42, caps[c], seqs, 128, &st);
        assert_int_equal(m, 19);
        assert_int_equal(seqs[0], 42);
        assert_int_equal(st.last_seq, 60);
    }
}

static void test_report_since_beyond_newest_is_empty(void **state)
{
    (void)state;
    flash_sim_t sim;
    pv_ring_t ring;
    flash_sim_init(&sim, g_mem, SECTOR, SECTORS, 1);
    assert_int_equal(pv_ring_open(&ring, &sim.ops), PV_OK);
    assert_int_equal(workload_append(&ring, 5), PV_OK);
    uint32_t seqs[4];
    pv_backfill_t st;
    assert_int_equal(report_since(&ring, 6, 61, seqs, 4, &st), 0);
    assert_int_equal(st.count, 0);
    assert_int_equal(st.last_seq, 0);
}

static void test_payload_too_small_for_a_record(void **state)
{
    (void)state;
    flash_sim_t sim;
    pv_ring_t ring;
    flash_sim_init(&sim, g_mem, SECTOR, SECTORS, 1);
    assert_int_equal(pv_ring_open(&ring, &sim.ops), PV_OK);
    assert_int_equal(workload_append(&ring, 15), PV_OK); /* 15 object bytes: a 24-byte record */
    uint8_t note[32];
    size_t used = 99;
    pv_backfill_t st;
    pv_backfill_start(&st, 0);
    assert_int_equal(pv_backfill_next(&ring, &st, note, 20, &used), PV_ERR_NO_SPACE); /* MTU 23 */
    assert_int_equal(used, 0);
    /* The record is kept: a larger payload then carries it. */
    assert_int_equal(pv_backfill_next(&ring, &st, note, 24, &used), PV_OK);
    assert_int_equal(used, 24);
    assert_int_equal(st.count, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_since_sends_every_pending_record_once_in_order),
        cmocka_unit_test(test_report_since_beyond_newest_is_empty),
        cmocka_unit_test(test_payload_too_small_for_a_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
