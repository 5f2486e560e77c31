/* Cut power at every flash write/erase of a workload that fills, wraps, overwrites and acknowledges,
 * with every tear mode; after each cut, recover and check the ring's invariants:
 *   - no committed record is lost (unless acknowledged, or dropped by a full ring and counted);
 *   - no torn or foreign record is visible: everything visible is exactly what was appended;
 *   - records stay in ascending seq order; acknowledged records never come back as pending;
 *   - the recovered ring accepts new records and keeps them across another reopen. */
#include "test_support.h"

#include <stdio.h>
#include <string.h>

#include "flash_sim.h"
#include "pv/pv_ring.h"
#include "ring_workload.h"

#define SECTOR 256u
#define SECTORS 4u
#define MAX_SEQ 64u

typedef struct {
    uint8_t committed[MAX_SEQ + 1u]; /* append returned PV_OK */
    uint32_t acked_confirmed;        /* highest ack_upto that returned PV_OK */
    uint32_t acked_requested;        /* highest ack_upto issued, even if power failed during it */
    uint32_t highest_attempted;
} model_t;

/* Runs the workload until it ends or an operation fails (power cut). */
static void run_workload(pv_ring_t *ring, model_t *m)
{
    static const struct {
        uint32_t append_to; /* append up to this seq, then... */
        uint32_t ack;       /* ...acknowledge up to this seq (0 = none) */
    } steps[] = {{12, 6}, {30, 25}, {45, 40}, {50, 50}, {55, 0}};
    uint32_t seq = 1;
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        for (; seq <= steps[s].append_to; seq++) {
            m->highest_attempted = seq;
            if (workload_append(ring, seq) != PV_OK) {
                return;
            }
            m->committed[seq] = 1;
        }
        if (steps[s].ack != 0u) {
            m->acked_requested = steps[s].ack;
            if (pv_ring_ack_upto(ring, steps[s].ack) != PV_OK) {
                return;
            }
            m->acked_confirmed = steps[s].ack;
        }
    }
}

static void check_recovered(flash_sim_t *sim, const model_t *m, uint32_t dropped_upto, const char *what)
{
    pv_ring_t ring;
    if (pv_ring_open(&ring, &sim->ops) != PV_OK) {
        print_error("%s: open failed\n", what);
        fail();
    }
    uint8_t visible[MAX_SEQ + 2u] = {0};
    uint8_t pending[MAX_SEQ + 2u] = {0};
    uint32_t prev = 0;
    pv_ring_cursor_t cur = {0, 0};
    pv_ring_record_t rec;
    pv_status_t st;
    while ((st = pv_ring_next(&ring, &cur, &rec)) == PV_OK) {
        if (rec.seq == 0u || rec.seq > m->highest_attempted || !workload_matches(&rec)) {
            print_error("%s: torn or foreign record seq %u\n", what, (unsigned)rec.seq);
            fail();
        }
        if (rec.seq <= prev) {
            print_error("%s: order broken at seq %u after %u\n", what, (unsigned)rec.seq, (unsigned)prev);
            fail();
        }
        prev = rec.seq;
        visible[rec.seq] = 1;
        pending[rec.seq] = (uint8_t)!rec.acked;
        if (!rec.acked && rec.seq <= m->acked_confirmed) {
            print_error("%s: acknowledged seq %u came back\n", what, (unsigned)rec.seq);
            fail();
        }
    }
    assert_int_equal(st, PV_ERR_NOT_FOUND);
    for (uint32_t seq = 1; seq <= MAX_SEQ; seq++) {
        /* Records covered by an interrupted ACK may be gone: the hub already holds them. */
        if (m->committed[seq] && seq > m->acked_requested && seq > dropped_upto &&
            !(visible[seq] && pending[seq])) {
            print_error("%s: committed seq %u lost (acked %u, dropped up to %u)\n", what, (unsigned)seq,
                        (unsigned)m->acked_confirmed, (unsigned)dropped_upto);
            fail();
        }
    }
    /* Life goes on: a new record is stored and survives another reboot. */
    const uint32_t next = m->highest_attempted + 1u;
    assert_int_equal(workload_append(&ring, next), PV_OK);
    pv_ring_t again;
    assert_int_equal(pv_ring_open(&again, &sim->ops), PV_OK);
    uint32_t count, first, last;
    assert_int_equal(pv_ring_pending(&again, &count, &first, &last), PV_OK);
    assert_int_equal(last, next);
}

static void test_cut_power_at_every_flash_operation(void **state)
{
    (void)state;
    static uint8_t mem[SECTOR * SECTORS];
    flash_sim_t sim;
    pv_ring_t ring;
    model_t m;

    /* Reference run: count the operations and check the uninterrupted outcome. */
    flash_sim_init(&sim, mem, SECTOR, SECTORS, 1);
    memset(&m, 0, sizeof(m));
    assert_int_equal(pv_ring_open(&ring, &sim.ops), PV_OK);
    const long setup_ops = sim.op_count;
    run_workload(&ring, &m);
    assert_int_equal(m.highest_attempted, 55);
    assert_true(m.committed[55]);
    assert_true(ring.dropped_records > 0u); /* the workload does overflow the ring */
    const long total_ops = sim.op_count;
    uint32_t count, first, last;
    assert_int_equal(pv_ring_pending(&ring, &count, &first, &last), PV_OK);
    assert_int_equal(count, 5);
    assert_int_equal(first, 51);

    long scenarios = 0;
    for (long cut = setup_ops; cut < total_ops; cut++) {
        for (int tear = 0; tear < TEAR_MODE_COUNT; tear++) {
            flash_sim_init(&sim, mem, SECTOR, SECTORS, 1);
            memset(&m, 0, sizeof(m));
            assert_int_equal(pv_ring_open(&ring, &sim.ops), PV_OK);
            sim.cut_at = cut;
            sim.tear = (tear_mode_t)tear;
            run_workload(&ring, &m);
            assert_true(sim.dead);
            /* Reboot: power back, same flash contents, RAM state gone except what the test kept. */
            const uint32_t dropped_upto = ring.dropped_upto;
            sim.dead = 0;
            sim.cut_at = -1;
            char what[64];
            snprintf(what, sizeof(what), "cut at op %ld tear %d", cut, tear);
            check_recovered(&sim, &m, dropped_upto, what);
            assert_int_equal(sim.bit_set_violations, 0);
            scenarios++;
        }
    }
    printf("power-loss scenarios checked: %ld (%ld flash operations x %d tear modes)\n", scenarios,
           total_ops - setup_ops, (int)TEAR_MODE_COUNT);
}

/* A cut while formatting a blank partition leaves it usable too. */
static void test_cut_during_format(void **state)
{
    (void)state;
    static uint8_t mem[SECTOR * SECTORS];
    for (int tear = 0; tear < TEAR_MODE_COUNT; tear++) {
        for (long cut = 0; cut < 2; cut++) {
            flash_sim_t sim;
            pv_ring_t ring;
            flash_sim_init(&sim, mem, SECTOR, SECTORS, 0);
            memset(mem, 0xA5, sizeof(mem));
            sim.cut_at = cut;
            sim.tear = (tear_mode_t)tear;
            assert_int_not_equal(pv_ring_open(&ring, &sim.ops), PV_OK);
            sim.dead = 0;
            sim.cut_at = -1;
            assert_int_equal(pv_ring_open(&ring, &sim.ops), PV_OK);
            assert_int_equal(workload_append(&ring, 1), PV_OK);
            pv_ring_t again;
            assert_int_equal(pv_ring_open(&again, &sim.ops), PV_OK);
            assert_int_equal(again.last_seq, 1);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut_power_at_every_flash_operation),
        cmocka_unit_test(test_cut_during_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
