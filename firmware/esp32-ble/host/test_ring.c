#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#include "flash_sim.h"
#include "pv/pv_ring.h"
#include "ring_workload.h"

#define SECTOR 256u /* 16-byte header + 5 slots */
#define SECTORS 4u

static uint8_t g_mem[SECTOR * SECTORS];

static void collect(pv_ring_t *ring, uint32_t *seqs, size_t *n, int pending_only)
{
    pv_ring_cursor_t cur = {0, 0};
    pv_ring_record_t rec;
    *n = 0;
    pv_status_t st;
    while ((st = pv_ring_next(ring, &cur, &rec)) == PV_OK) {
        assert_true(workload_matches(&rec));
        if (!pending_only || !rec.acked) {
            seqs[(*n)++] = rec.seq;
        }
    }
    assert_int_equal(st, PV_ERR_NOT_FOUND);
}

static void test_empty_flash_formats(void **state)
{
    (void)state;
    flash_sim_t sim;
    pv_ring_t ring;
    flash_sim_init(&sim, g_mem, SECTOR, SECTORS, 0);
    memset(g_mem, 0x00, sizeof(g_mem)); /* garbage, not even erased */
    assert_int_equal(pv_ring_open(&ring, &sim.ops), PV_OK);
    assert_int_equal(pv_ring_capacity(&ring), 20);
    uint32_t count, first, last;
    assert_int_equal(pv_ring_pending(&ring, &count, &first, &last), PV_OK);
    assert_int_equal(count, 0);
    assert_int_equal(first, 0);
    assert_int_equal(sim.bit_set_violations, 0);
}

static void test_append_iterate_reopen(void **state)
{
    (void)state;
    flash_sim_t sim;
    pv_ring_t ring;
    flash_sim_init(&sim, g_mem, SECTOR, SECTORS, 1);
    assert_int_equal(pv_ring_open(&ring, &sim.ops), PV_OK);
    for (uint32_t seq = 100; seq < 112; seq++) {
        assert_int_equal(workload_append(&ring, seq), PV_OK);
    }
    assert_int_equal(workload_append(&ring, 111), PV_ERR_RANGE); /* seq must increase */
    uint8_t big[PV_RING_MAX_DATA + 1u] = {0};
    assert_int_equal(pv_ring_append(&ring, 200, 0, big, sizeof(big)), PV_ERR_NO_SPACE);

    pv_ring_t again;
    assert_int_equal(pv_ring_open(&again, &sim.ops), PV_OK);
    assert_int_equal(again.last_seq, 111);
    uint32_t seqs[32];
    size_t n;
    collect(&again, seqs, &n, 0);
    assert_int_equal(n, 12);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(seqs[i], 100 + i);
    }
    /* REPORT_SINCE(105) starts at 105. */
    pv_ring_cursor_t cur = {0, 0};
    pv_ring_record_t rec;
    assert_int_equal(pv_ring_next_pending(&again, &cur, 105, &rec), PV_OK);
    assert_int_equal(rec.seq, 105);
    assert_int_equal(sim.bit_set_violations, 0);
}

static void test_ack_frees_sectors_and_survives_reopen(void **state)
{
    (void)state;
    flash_sim_t sim;
    pv_ring_t ring;
    flash_sim_init(&sim, g_mem, SECTOR, SECTORS, 1);
    assert_int_equal(pv_ring_open(&ring, &sim.ops), PV_OK);
    for (uint32_t seq = 1; seq <= 18; seq++) {
        assert_int_equal(workload_append(&ring, seq), PV_OK);
    }
    assert_int_equal(ring.run_len, 4);
    assert_int_equal(pv_ring_ack_upto(&ring, 12), PV_OK);
    /* Sectors holding 1-5 and 6-10 are free now; 11-15 still holds 13-15. */
    assert_int_equal(ring.run_len, 2);
    uint32_t count, first, last;
    assert_int_equal(pv_ring_pending(&ring, &count, &first, &last), PV_OK);
    assert_int_equal(count, 6);
    assert_int_equal(first, 13);
    assert_int_equal(last, 18);

    pv_ring_t again;
    assert_int_equal(pv_ring_open(&again, &sim.ops), PV_OK);
    assert_int_equal(again.acked_seq, 12);
    assert_int_equal(pv_ring_pending(&again, &count, &first, &last), PV_OK);
    assert_int_equal(count, 6);
    assert_int_equal(first, 13);
    /* Acknowledging everything keeps only the head sector. */
    assert_int_equal(pv_ring_ack_upto(&again, 18), PV_OK);
    assert_int_equal(again.run_len, 1);
    assert_int_equal(pv_ring_pending(&again, &count, &first, &last), PV_OK);
    assert_int_equal(count, 0);
    assert_int_equal(sim.bit_set_violations, 0);
}

static void test_wraparound_overwrites_oldest_and_counts(void **state)
{
    (void)state;
    flash_sim_t sim;
    pv_ring_t ring;
    flash_sim_init(&sim, g_mem, SECTOR, SECTORS, 1);
    assert_int_equal(pv_ring_open(&ring, &sim.ops), PV_OK);
    for (uint32_t seq = 1; seq <= 53; seq++) {
        assert_int_equal(workload_append(&ring, seq), PV_OK);
    }
    /* 53 records into 20 slots: sectors of 5 are dropped whole, oldest first. */
    uint32_t seqs[32];
    size_t n;
    collect(&ring, seqs, &n, 0);
    assert_int_equal(n, 18);
    assert_int_equal(seqs[0], 36);
    assert_int_equal(seqs[n - 1], 53);
    assert_int_equal(ring.dropped_records, 35);
    assert_int_equal(ring.dropped_upto, 35);

    pv_ring_t again;
    assert_int_equal(pv_ring_open(&again, &sim.ops), PV_OK);
    collect(&again, seqs, &n, 0);
    assert_int_equal(n, 18);
    assert_int_equal(seqs[0], 36);
    assert_int_equal(workload_append(&again, 54), PV_OK);
    assert_int_equal(sim.bit_set_violations, 0);
}

static void test_torn_slot_is_skipped_not_reused(void **state)
{
    (void)state;
    flash_sim_t sim;
    pv_ring_t ring;
    flash_sim_init(&sim, g_mem, SECTOR, SECTORS, 1);
    assert_int_equal(pv_ring_open(&ring, &sim.ops), PV_OK);
    assert_int_equal(workload_append(&ring, 1), PV_OK);
    /* Cut the body write of record 2 half way. */
    sim.cut_at = sim.op_count;
    sim.tear = TEAR_FIRST_HALF;
    assert_int_equal(workload_append(&ring, 2), PV_ERR_IO);
    sim.dead = 0;
    sim.cut_at = -1;
    pv_ring_t again;
    assert_int_equal(pv_ring_open(&again, &sim.ops), PV_OK);
    assert_int_equal(again.head_slot, 2);
    assert_int_equal(workload_append(&again, 3), PV_OK);
    uint32_t seqs[8];
    size_t n;
    collect(&again, seqs, &n, 0);
    assert_int_equal(n, 2);
    assert_int_equal(seqs[0], 1);
    assert_int_equal(seqs[1], 3);
    assert_int_equal(sim.bit_set_violations, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_flash_formats),
        cmocka_unit_test(test_append_iterate_reopen),
        cmocka_unit_test(test_ack_frees_sectors_and_survives_reopen),
        cmocka_unit_test(test_wraparound_overwrites_oldest_and_counts),
        cmocka_unit_test(test_torn_slot_is_skipped_not_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
