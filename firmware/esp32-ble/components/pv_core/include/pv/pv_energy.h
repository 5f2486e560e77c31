/* Energy model of a node's day, computed from the firmware's own schedule (pv_config_t and the
 * wake's phases) and datasheet currents. The host test prints the battery life it gives for the
 * default settings; the firmware README quotes that table. */
#ifndef PV_ENERGY_H
#define PV_ENERGY_H

#include <stdint.h>

#include "pv/pv_config.h"

/* Currents and durations of one board; currents at the regulator's output. */
typedef struct {
    const char *name;
    uint32_t deep_sleep_ua;     /* chip in deep sleep with the RTC timer (datasheet) */
    uint32_t board_sleep_ua;    /* regulator quiescent + battery divider + leakage, sensors off */
    uint32_t boot_ms;           /* deep-sleep wake to app_main: ROM, bootloader, flash */
    uint32_t boot_ma;
    uint32_t ble_start_ms;      /* controller + NimBLE host up and synced */
    uint32_t ble_start_ma;
    uint32_t measure_ms;        /* sensors powered: settle, ADC, SHT3x, BH1750 one-shot */
    uint32_t measure_ma;        /* probe (~5 mA) + sensors + CPU between light sleeps */
    uint32_t adv_event_uc;      /* one legacy advertising event on 3 channels, with scan response */
    uint32_t light_sleep_ua;    /* between radio events, BT modem sleep on the main XTAL */
    uint32_t connected_ma;      /* mean current during a hub session */
    uint32_t capture_ms;        /* camera power-up, warm-up frames and one JPEG */
    uint32_t capture_ma;
    uint32_t transfer_bytes_per_s;  /* ImageData notifications at MTU 247 */
    uint32_t shutdown_ms;           /* NimBLE stop and deep-sleep entry */
    uint32_t shutdown_ma;
} pv_energy_board_t;

/* What happens besides the schedule: hub sessions and photos per day. */
typedef struct {
    uint32_t sessions_per_day;
    uint32_t session_s;
    uint32_t photos_per_day;
    uint32_t photo_bytes;
} pv_energy_usage_t;

/* A battery as the regulator sees it. */
typedef struct {
    const char *name;
    uint32_t capacity_mah;
    uint32_t usable_pct;           /* share delivered above the regulator's cut-off */
    uint32_t efficiency_pct;       /* regulator: output energy / battery energy */
    uint32_t battery_mv;           /* mean cell voltage over the discharge */
    uint32_t output_mv;            /* what the board runs at */
    uint32_t self_discharge_ppm_per_day;
} pv_energy_battery_t;

extern const pv_energy_board_t PV_ENERGY_C3_SENSOR;
extern const pv_energy_board_t PV_ENERGY_S3_CAMERA;
extern const pv_energy_battery_t PV_ENERGY_2XAA;    /* alkaline, through a boost converter */
extern const pv_energy_battery_t PV_ENERGY_18650;   /* Li-ion, through an LDO */

/* Charge of one scheduled wake (no session, no photo), in nC: boot, radio start, measuring, the
 * advert burst, the connectable window and shutdown. */
uint64_t pv_energy_wake_nc(const pv_config_t *config, const pv_energy_board_t *board);

/* Charge per day at the regulator's output, in nC, for the configured sampling interval. */
uint64_t pv_energy_day_nc(const pv_config_t *config, const pv_energy_board_t *board,
                          const pv_energy_usage_t *usage);

/* Days until `battery` is used up at `day_nc` per day (self-discharge included). */
uint32_t pv_energy_battery_days(const pv_energy_battery_t *battery, uint64_t day_nc);

#endif
