#include "calibration.h"

#include <stdbool.h>

#include "driver/gpio.h"
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "node_storage.h"
#include "pv/pv_board.h"
#include "sensors.h"
#include "sdkconfig.h"

static const char *TAG = "pv_calib";

#if CONFIG_IDF_TARGET_ESP32C3
#define PV_TARGET PV_TARGET_ESP32C3
#else
#define PV_TARGET PV_TARGET_ESP32S3
#endif

#define STEP_TIMEOUT_MS 120000
#define SAMPLE_COUNT 8

static int button_pressed(void)
{
    return gpio_get_level(CONFIG_PV_PIN_BUTTON) == 0; /* active low, like the BOOT buttons */
}

/* Waits for a press-and-release; false on timeout. */
static bool wait_for_click(void)
{
    for (int waited = 0; waited < STEP_TIMEOUT_MS; waited += 20) {
        if (button_pressed()) {
            while (button_pressed()) {
                vTaskDelay(pdMS_TO_TICKS(20));
            }
            return true;
        }
        vTaskDelay(pdMS_TO_TICKS(20));
    }
    return false;
}

/* Median of a few probe readings: robust to a finger brushing the probe. */
static esp_err_t probe_median(uint16_t *mv)
{
    uint16_t v[SAMPLE_COUNT];
    sensors_power(1);
    for (int i = 0; i < SAMPLE_COUNT; i++) {
        if (sensors_probe_mv(&v[i]) != ESP_OK) {
            sensors_power(0);
            return ESP_FAIL;
        }
        vTaskDelay(pdMS_TO_TICKS(100));
    }
    sensors_power(0);
    for (int i = 1; i < SAMPLE_COUNT; i++) {
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            const uint16_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    }
    *mv = v[SAMPLE_COUNT / 2];
    return ESP_OK;
}

esp_err_t calibration_run(pv_moisture_calib_t *calib)
{
    pv_moisture_calib_t c;
    ESP_LOGW(TAG, "CALIBRATION: wipe the probe dry, hold it in air, then press the button");
    if (!wait_for_click() || probe_median(&c.dry_mv) != ESP_OK) {
        ESP_LOGE(TAG, "calibration abandoned");
        return ESP_ERR_TIMEOUT;
    }
    ESP_LOGW(TAG, "dry: %u mV. Now put the probe in water up to the line, then press the button",
             c.dry_mv);
    if (!wait_for_click() || probe_median(&c.wet_mv) != ESP_OK) {
        ESP_LOGE(TAG, "calibration abandoned");
        return ESP_ERR_TIMEOUT;
    }
    ESP_LOGW(TAG, "wet: %u mV", c.wet_mv);
    if (pv_moisture_calib_fits_adc(&c, PV_TARGET, CONFIG_PV_PROBE_R_TOP_OHM, CONFIG_PV_PROBE_R_BOTTOM_OHM) !=
        PV_OK) {
        ESP_LOGE(TAG, "the probe's output is beyond this chip's ADC range: fit the divider. Not saved");
        return ESP_ERR_INVALID_SIZE;
    }
    if (pv_moisture_calib_validate(&c) != PV_OK) {
        ESP_LOGE(TAG, "dry and wet differ by < 100 mV: probe unplugged or not in water? Not saved");
        return ESP_ERR_INVALID_STATE;
    }
    const esp_err_t err = node_storage_save_calibration(&c);
    if (err == ESP_OK) {
        *calib = c;
        ESP_LOGW(TAG, "calibration saved");
    }
    return err;
}
