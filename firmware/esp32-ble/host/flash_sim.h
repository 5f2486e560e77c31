/* Simulated NOR flash for the ring tests: erase sets 0xFF, program can only clear bits, and power
 * can be cut at any chosen write/erase operation, which is then applied partially or not at all. */
#ifndef FLASH_SIM_H
#define FLASH_SIM_H

#include <stdint.h>

#include "pv/pv_ring.h"

typedef enum {
    TEAR_NOTHING,      /* the interrupted operation changed nothing */
    TEAR_FIRST_HALF,   /* the first half of its bytes changed */
    TEAR_SECOND_HALF,  /* the second half changed (erase: end of sector first) */
    TEAR_EVERYTHING,   /* it completed but the CPU died before seeing the result */
    TEAR_MODE_COUNT
} tear_mode_t;

typedef struct {
    uint8_t *mem;
    uint32_t size;
    long op_count;  /* write and erase operations seen */
    long cut_at;    /* operation index that loses power, -1 for never */
    tear_mode_t tear;
    int dead;                /* power is off: every later operation fails */
    long bit_set_violations; /* programs that tried to turn a 0 bit into 1 */
    pv_flash_ops_t ops;
} flash_sim_t;

/* Fresh erased flash (mem must hold sector_size * sector_count bytes). */
void flash_sim_init(flash_sim_t *sim, uint8_t *mem, uint32_t sector_size, uint32_t sector_count,
                    int erased);

#endif
