#include "camera.h"

#include <stdbool.h>

#include "esp_camera.h"
#include "esp_check.h"
#include "esp_log.h"
#include "esp_pm.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "image_store.h"
#include "sdkconfig.h"

static const char *TAG = "pv_camera";

/* Frames to drop while auto exposure settles after power-up. */
#define WARMUP_FRAMES 3

static esp_err_t camera_start(void)
{
    const camera_config_t config = {
        .pin_pwdn = CONFIG_PV_CAM_PIN_PWDN,
        .pin_reset = CONFIG_PV_CAM_PIN_RESET,
        .pin_xclk = CONFIG_PV_CAM_PIN_XCLK,
        .pin_sccb_sda = CONFIG_PV_CAM_PIN_SIOD,
        .pin_sccb_scl = CONFIG_PV_CAM_PIN_SIOC,
        .pin_d7 = CONFIG_PV_CAM_PIN_D7,
        .pin_d6 = CONFIG_PV_CAM_PIN_D6,
        .pin_d5 = CONFIG_PV_CAM_PIN_D5,
        .pin_d4 = CONFIG_PV_CAM_PIN_D4,
        .pin_d3 = CONFIG_PV_CAM_PIN_D3,
        .pin_d2 = CONFIG_PV_CAM_PIN_D2,
        .pin_d1 = CONFIG_PV_CAM_PIN_D1,
        .pin_d0 = CONFIG_PV_CAM_PIN_D0,
        .pin_vsync = CONFIG_PV_CAM_PIN_VSYNC,
        .pin_href = CONFIG_PV_CAM_PIN_HREF,
        .pin_pclk = CONFIG_PV_CAM_PIN_PCLK,
        .xclk_freq_hz = 20000000,
        .ledc_timer = LEDC_TIMER_0,
        .ledc_channel = LEDC_CHANNEL_0,
        .pixel_format = PIXFORMAT_JPEG,
        .frame_size = FRAMESIZE_SVGA, /* 800x600: canopy metrics need no more, fits 64 KiB at q12 */
        .jpeg_quality = 12,
        .fb_count = 1,
        .fb_location = CAMERA_FB_IN_PSRAM,
        .grab_mode = CAMERA_GRAB_LATEST,
    };
    return esp_camera_init(&config);
}

/* While XCLK runs and the DMA fills the frame buffer, automatic light sleep would gate the clocks
 * under the camera (garbled or missing frames) and frequency scaling would slow the LEDC XCLK:
 * hold both locks for the whole capture. */
static esp_pm_lock_handle_t s_no_sleep;
static esp_pm_lock_handle_t s_max_freq;
static bool s_locks_ready;

static void hold_power(bool hold)
{
    if (!s_locks_ready) {
        if (esp_pm_lock_create(ESP_PM_NO_LIGHT_SLEEP, 0, "camera", &s_no_sleep) != ESP_OK ||
            esp_pm_lock_create(ESP_PM_CPU_FREQ_MAX, 0, "camera", &s_max_freq) != ESP_OK) {
            ESP_LOGW(TAG, "no power-management locks (PM disabled?)");
            return;
        }
        s_locks_ready = true;
    }
    if (hold) {
        esp_pm_lock_acquire(s_no_sleep);
        esp_pm_lock_acquire(s_max_freq);
    } else {
        esp_pm_lock_release(s_max_freq);
        esp_pm_lock_release(s_no_sleep);
    }
}

static esp_err_t capture(uint32_t epoch, pv_image_entry_t *entry, pv_cp_status_t *status);

esp_err_t camera_capture_to_store(uint32_t epoch, pv_image_entry_t *entry, pv_cp_status_t *status)
{
    hold_power(true);
    const esp_err_t err = capture(epoch, entry, status);
    hold_power(false);
    return err;
}

static esp_err_t capture(uint32_t epoch, pv_image_entry_t *entry, pv_cp_status_t *status)
{
    *status = PV_CP_CAPTURE_FAILED;
    esp_err_t err = camera_start();
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "camera init failed: %s", esp_err_to_name(err));
        return err;
    }
    /* Retry with stronger compression while the JPEG does not fit a slot (bright, busy scenes). */
    static const int qualities[] = {12, 20, 30};
    camera_fb_t *fb = NULL;
    err = ESP_FAIL;
    for (size_t q = 0; q < sizeof(qualities) / sizeof(qualities[0]); q++) {
        sensor_t *sensor = esp_camera_sensor_get();
        if (sensor != NULL && q > 0) {
            sensor->set_quality(sensor, qualities[q]);
        }
        for (int i = 0; i <= WARMUP_FRAMES; i++) {
            if (fb != NULL) {
                esp_camera_fb_return(fb);
            }
            fb = esp_camera_fb_get();
            if (fb == NULL) {
                break;
            }
        }
        if (fb == NULL || fb->format != PIXFORMAT_JPEG) {
            ESP_LOGE(TAG, "no JPEG frame");
            break;
        }
        err = image_store_put(fb->buf, fb->len, epoch, entry);
        if (err != ESP_ERR_INVALID_SIZE) {
            break;
        }
        ESP_LOGW(TAG, "JPEG of %u bytes too large at quality %d", (unsigned)fb->len, qualities[q]);
    }
    if (err == ESP_ERR_NO_MEM) {
        *status = PV_CP_STORAGE_FULL;
    } else if (err == ESP_OK) {
        *status = PV_CP_SUCCESS;
        ESP_LOGI(TAG, "image %u: %u bytes", entry->image_id, (unsigned)entry->size);
    } else {
        ESP_LOGE(TAG, "capture failed: %s", esp_err_to_name(err));
    }
    if (fb != NULL) {
        esp_camera_fb_return(fb);
    }
    esp_camera_deinit();
    return err;
}
