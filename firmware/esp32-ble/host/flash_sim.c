#include "flash_sim.h"

#include <string.h>

static int power_check(flash_sim_t *sim, size_t len, size_t *from, size_t *to)
{
    *from = 0;
    *to = len;
    if (sim->dead) {
        *to = 0;
        return -1;
    }
    if (sim->op_count++ != sim->cut_at) {
        return 0;
    }
    sim->dead = 1;
    switch (sim->tear) {
    case TEAR_NOTHING:
        *to = 0;
        break;
    case TEAR_FIRST_HALF:
        *to = len / 2u;
        break;
    case TEAR_SECOND_HALF:
        *from = len / 2u;
        break;
    default:
        break;
    }
    return -1;
}

static pv_status_t sim_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
    flash_sim_t *sim = ctx;
    if (sim->dead) {
        return PV_ERR_IO;
    }
    if (addr > sim->size || sim->size - addr < len) {
        return PV_ERR_ARG;
    }
    memcpy(buf, &sim->mem[addr], len);
    return PV_OK;
}

static pv_status_t sim_write(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    flash_sim_t *sim = ctx;
    if (addr > sim->size || sim->size - addr < len) {
        return PV_ERR_ARG;
    }
    size_t from, to;
    const int cut = power_check(sim, len, &from, &to);
    const uint8_t *src = buf;
    for (size_t i = from; i < to; i++) {
        if ((sim->mem[addr + i] & src[i]) != src[i]) {
            sim->bit_set_violations++;
        }
        sim->mem[addr + i] &= src[i];
    }
    return cut ? PV_ERR_IO : PV_OK;
}

static pv_status_t sim_erase(void *ctx, uint32_t sector)
{
    flash_sim_t *sim = ctx;
    if (sector >= sim->ops.sector_count) {
        return PV_ERR_ARG;
    }
    size_t from, to;
    const int cut = power_check(sim, sim->ops.sector_size, &from, &to);
    if (to > from) {
        memset(&sim->mem[sector * sim->ops.sector_size + from], 0xFF, to - from);
    }
    return cut ? PV_ERR_IO : PV_OK;
}

void flash_sim_init(flash_sim_t *sim, uint8_t *mem, uint32_t sector_size, uint32_t sector_count,
                    int erased)
{
    memset(sim, 0, sizeof(*sim));
    sim->mem = mem;
    sim->size = sector_size * sector_count;
    sim->cut_at = -1;
    if (erased) {
        memset(mem, 0xFF, sim->size);
    }
    sim->ops.ctx = sim;
    sim->ops.sector_size = sector_size;
    sim->ops.sector_count = sector_count;
    sim->ops.read = sim_read;
    sim->ops.write = sim_write;
    sim->ops.erase = sim_erase;
}
