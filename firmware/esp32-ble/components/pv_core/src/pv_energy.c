#include "pv/pv_energy.h"

#include <stddef.h>

/* Datasheet figures: ESP32-C3 (deep sleep 5 uA, light sleep ~130 uA, TX 0 dBm ~25 mA), ESP32-S3
 * (deep sleep 8 uA, light sleep ~240 uA), a capacitive soil probe v1.2 (~5 mA), SHT3x (0.6 mA
 * measuring), BH1750 (0.12 mA), OV2640 (~100 mA active), TPS61099 boost (1 uA quiescent), HT7833
 * LDO (4 uA), a 1 M / 1 M battery divider (~2 uA). */
const pv_energy_board_t PV_ENERGY_C3_SENSOR = {
    .name = "ESP32-C3 sensor node",
    .deep_sleep_ua = 5,
    .board_sleep_ua = 4,
    .boot_ms = 150,
    .boot_ma = 20,
    .ble_start_ms = 120,
    .ble_start_ma = 25,
    .measure_ms = 250,
    .measure_ma = 9,
    .adv_event_uc = 80, /* ~3 ms awake from light sleep at ~25 mA: 3 channels, scan response */
    .light_sleep_ua = 130,
    .connected_ma = 8,
    .capture_ms = 0,
    .capture_ma = 0,
    .transfer_bytes_per_s = 15000,
    .shutdown_ms = 20,
    .shutdown_ma = 20,
};

const pv_energy_board_t PV_ENERGY_S3_CAMERA = {
    .name = "ESP32-S3 camera node",
    .deep_sleep_ua = 8,
    .board_sleep_ua = 6,
    .boot_ms = 250,
    .boot_ma = 40,
    .ble_start_ms = 150,
    .ble_start_ma = 45,
    .measure_ms = 250,
    .measure_ma = 12,
    .adv_event_uc = 100,
    .light_sleep_ua = 240,
    .connected_ma = 30,
    .capture_ms = 1500,
    .capture_ma = 190,
    .transfer_bytes_per_s = 15000,
    .shutdown_ms = 30,
    .shutdown_ma = 40,
};

const pv_energy_battery_t PV_ENERGY_2XAA = {
    .name = "2 x AA alkaline (boost to 3.3 V)",
    .capacity_mah = 2500,
    .usable_pct = 90,
    .efficiency_pct = 85,
    .battery_mv = 2600,
    .output_mv = 3300,
    .self_discharge_ppm_per_day = 55, /* ~2 % a year */
};

const pv_energy_battery_t PV_ENERGY_18650 = {
    .name = "18650 Li-ion 3000 mAh (LDO to 3.3 V)",
    .capacity_mah = 3000,
    .usable_pct = 85, /* the LDO drops out near 3.4 V */
    .efficiency_pct = 100,  /* an LDO passes the current through: charge, not energy, is conserved */
    .battery_mv = 3300,     /* with efficiency 100 % and equal voltages: current in = current out */
    .output_mv = 3300,
    .self_discharge_ppm_per_day = 700, /* ~2 % a month, protection circuit included */
};

/* mA x ms = uC; uC x 1000 = nC. */
static uint64_t nc(uint32_t ma, uint32_t ms)
{
    return (uint64_t)ma * ms * 1000u;
}

uint64_t pv_energy_wake_nc(const pv_config_t *config, const pv_energy_board_t *board)
{
    if (config == NULL || board == NULL) {
        return 0;
    }
    uint64_t q = nc(board->boot_ma, board->boot_ms) + nc(board->ble_start_ma, board->ble_start_ms) +
                 nc(board->measure_ma, board->measure_ms) + nc(board->shutdown_ma, board->shutdown_ms);
    /* The burst: `count` events, the idle between them in light sleep. */
    const uint64_t burst_ms = (uint64_t)config->advert_burst_count * config->advert_burst_interval_ms;
    q += (uint64_t)config->advert_burst_count * board->adv_event_uc * 1000u;
    q += (uint64_t)board->light_sleep_ua * burst_ms;
    /* The connectable window advertises every 300 ms (ble_node_connectable_window). */
    const uint64_t window_ms = (uint64_t)config->connectable_window_s * 1000u;
    q += (window_ms / 300u) * board->adv_event_uc * 1000u;
    q += (uint64_t)board->light_sleep_ua * window_ms;
    return q;
}

uint64_t pv_energy_day_nc(const pv_config_t *config, const pv_energy_board_t *board,
                          const pv_energy_usage_t *usage)
{
    if (config == NULL || board == NULL || config->sampling_interval_s == 0u) {
        return 0;
    }
    const uint64_t day_ms = 86400000u;
    const uint64_t wakes = 86400u / config->sampling_interval_s;
    uint64_t q = wakes * pv_energy_wake_nc(config, board);
    q += (uint64_t)(board->deep_sleep_ua + board->board_sleep_ua) * day_ms;
    if (usage != NULL) {
        q += (uint64_t)usage->sessions_per_day * nc(board->connected_ma, usage->session_s * 1000u);
        if (board->capture_ms > 0u && board->transfer_bytes_per_s > 0u) {
            const uint64_t transfer_ms = (uint64_t)usage->photo_bytes * 1000u / board->transfer_bytes_per_s;
            q += (uint64_t)usage->photos_per_day *
                 (nc(board->capture_ma, board->capture_ms) + (uint64_t)board->connected_ma * transfer_ms * 1000u);
        }
    }
    return q;
}

uint32_t pv_energy_battery_days(const pv_energy_battery_t *battery, uint64_t day_nc)
{
    if (battery == NULL || battery->efficiency_pct == 0u || battery->battery_mv == 0u) {
        return 0;
    }
    /* Charge drawn from the battery = output charge x Vout / (Vbat x efficiency). */
    const double out_mah_per_day = (double)day_nc / 3.6e9;
    const double in_mah_per_day = out_mah_per_day * battery->output_mv * 100.0 /
                                  ((double)battery->battery_mv * battery->efficiency_pct);
    const double usable_mah = (double)battery->capacity_mah * battery->usable_pct / 100.0;
    const double self_mah_per_day = (double)battery->capacity_mah * battery->self_discharge_ppm_per_day / 1e6;
    const double days = usable_mah / (in_mah_per_day + self_mah_per_day);
    return days >= 4294967295.0 ? UINT32_MAX : (uint32_t)days;
}
