/* Config characteristic: [revision u32][TLV]*, TLV = [type u8][length u8][value] (protocol.md 3.2). */
#ifndef PV_CONFIG_H
#define PV_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "pv/pv_status.h"

#define PV_CONFIG_MAX_CAMERA_TIMES 8u
/* Encoded size with every setting present and 8 camera times (4 + 10 TLVs + 16 time bytes). */
#define PV_CONFIG_MAX_LEN 80u

enum {
    PV_CFG_SAMPLING_INTERVAL_S = 0x01,
    PV_CFG_ADVERT_BURST_COUNT = 0x02,
    PV_CFG_ADVERT_BURST_INTERVAL_MS = 0x03,
    PV_CFG_CAMERA_TIMES = 0x04,
    PV_CFG_MOISTURE_LOW = 0x05,
    PV_CFG_MOISTURE_HIGH = 0x06,
    PV_CFG_TEMPERATURE_LOW = 0x07,
    PV_CFG_TEMPERATURE_HIGH = 0x08,
    PV_CFG_CONNECTABLE_WINDOW_S = 0x09,
    PV_CFG_ALERT_INTERVAL_S = 0x0A,
    PV_CFG_CAMERA_INTERVAL_S = 0x0B,
};
#define PV_CFG_LAST_KNOWN_TYPE PV_CFG_CAMERA_INTERVAL_S

typedef struct {
    uint32_t revision;
    uint32_t sampling_interval_s;
    uint8_t advert_burst_count;
    uint16_t advert_burst_interval_ms;
    uint8_t camera_time_count;
    uint16_t camera_times[PV_CONFIG_MAX_CAMERA_TIMES]; /* minutes after 00:00 UTC, ascending */
    uint16_t moisture_low;                           /* 0.01 % */
    uint16_t moisture_high;
    int16_t temperature_low; /* 0.01 degC */
    int16_t temperature_high;
    uint16_t connectable_window_s;
    uint32_t alert_interval_s;
    uint32_t camera_interval_s; /* 0 = off, else 600..604800 */
} pv_config_t;

/* Every setting at its default, revision 0. */
void pv_config_defaults(pv_config_t *config);

/* Range and cross-field checks (low < high, camera times ascending). */
pv_status_t pv_config_validate(const pv_config_t *config);

/* Decode a complete Config write: absent known types take their default, unknown types are skipped;
 * wrong length, repeated type or out-of-range value -> PV_ERR_MALFORMED / PV_ERR_RANGE and *config
 * is left untouched. */
pv_status_t pv_config_decode(const uint8_t *in, size_t len, pv_config_t *config);

/* Encode every setting in ascending type order (camera_times always present, possibly empty). */
pv_status_t pv_config_encode(const pv_config_t *config, uint8_t *out, size_t cap, size_t *out_len);

/* The sampling interval to use now: the shorter of alert_interval_s and sampling_interval_s while the
 * last moisture or temperature reading is outside [low, high], else sampling_interval_s. has_* say whether the reading had the metric. */
uint32_t pv_config_next_interval_s(const pv_config_t *config, int has_moisture,
                                   uint16_t moisture_centi_pct, int has_temperature,
                                   int16_t temperature_centi_c);

#define PV_CAPTURE_NEVER 0xFFFFFFFFu

/* True when a capture is due at now_epoch: camera_interval_s elapsed since last_capture_epoch
 * (0 = never captured), or a camera_times instant passed since the last capture, at most an hour
 * ago (a node that slept through it still catches up, but not with a stale picture at midnight). */
int pv_config_capture_due(const pv_config_t *config, uint32_t now_epoch, uint32_t last_capture_epoch);

/* Seconds until the next capture becomes due (PV_CAPTURE_NEVER without a camera schedule). */
uint32_t pv_config_seconds_to_next_capture(const pv_config_t *config, uint32_t now_epoch,
                                           uint32_t last_capture_epoch);

#endif
