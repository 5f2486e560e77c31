#include "node_storage.h"

#include <string.h>

#include "esp_check.h"
#include "esp_log.h"
#include "esp_partition.h"
#include "esp_random.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "nvs.h"
#include "nvs_flash.h"

#define NVS_NAMESPACE "plantvita"
#define KEY_COUNTER "counter"
#define KEY_BINDKEY "bindkey"
#define KEY_CONFIG "config"
#define KEY_CALIB "calib"
#define RECORDS_SUBTYPE 0x40

static const char *TAG = "pv_storage";

static nvs_handle_t s_nvs;
static const esp_partition_t *s_records;
static pv_flash_ops_t s_flash_ops;
static pv_ring_t s_ring;
static SemaphoreHandle_t s_ring_mutex;

static pv_status_t flash_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
    return esp_partition_read((const esp_partition_t *)ctx, addr, buf, len) == ESP_OK ? PV_OK : PV_ERR_IO;
}

static pv_status_t flash_write(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    /* SPI NOR program: only clears bits, exactly what pv_ring's commit protocol relies on. */
    return esp_partition_write((const esp_partition_t *)ctx, addr, buf, len) == ESP_OK ? PV_OK : PV_ERR_IO;
}

static pv_status_t flash_erase(void *ctx, uint32_t sector)
{
    const esp_partition_t *p = ctx;
    return esp_partition_erase_range(p, sector * p->erase_size, p->erase_size) == ESP_OK ? PV_OK
                                                                                       : PV_ERR_IO;
}

esp_err_t node_storage_init(void)
{
    esp_err_t err = nvs_flash_init();
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        /* Only after an NVS layout change (new IDF): the counter floor from the ring still holds. */
        ESP_LOGW(TAG, "NVS unreadable (%s), erasing", esp_err_to_name(err));
        ESP_ERROR_CHECK(nvs_flash_erase());
        err = nvs_flash_init();
    }
    ESP_RETURN_ON_ERROR(err, TAG, "nvs init");
    ESP_RETURN_ON_ERROR(nvs_open(NVS_NAMESPACE, NVS_READWRITE, &s_nvs), TAG, "nvs open");

    s_records = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, RECORDS_SUBTYPE, "records");
    if (s_records == NULL) {
        ESP_LOGE(TAG, "no 'records' partition: flash partitions.csv");
        return ESP_ERR_NOT_FOUND;
    }
    s_flash_ops = (pv_flash_ops_t){
        .ctx = (void *)s_records,
        .sector_size = s_records->erase_size,
        .sector_count = s_records->size / s_records->erase_size,
        .read = flash_read,
        .write = flash_write,
        .erase = flash_erase,
    };
    s_ring_mutex = xSemaphoreCreateMutex();
    if (s_ring_mutex == NULL) {
        return ESP_ERR_NO_MEM;
    }
    const pv_status_t st = pv_ring_open(&s_ring, &s_flash_ops);
    if (st != PV_OK) {
        ESP_LOGE(TAG, "record ring open failed (%d)", (int)st);
        return ESP_FAIL;
    }
    ESP_LOGI(TAG, "record ring: %u sectors, capacity %u, last seq %u, acked up to %u",
             (unsigned)s_flash_ops.sector_count, (unsigned)pv_ring_capacity(&s_ring),
             (unsigned)s_ring.last_seq, (unsigned)s_ring.acked_seq);
    return ESP_OK;
}

esp_err_t node_storage_get_u32(const char *key, uint32_t *value, uint32_t fallback)
{
    const esp_err_t err = nvs_get_u32(s_nvs, key, value);
    if (err == ESP_ERR_NVS_NOT_FOUND) {
        *value = fallback;
        return ESP_OK;
    }
    return err;
}

esp_err_t node_storage_set_u32(const char *key, uint32_t value)
{
    ESP_RETURN_ON_ERROR(nvs_set_u32(s_nvs, key, value), TAG, "nvs set %s", key);
    return nvs_commit(s_nvs);
}

esp_err_t node_storage_next_counter(uint32_t floor, uint32_t *counter)
{
    uint32_t last = 0;
    ESP_RETURN_ON_ERROR(node_storage_get_u32(KEY_COUNTER, &last, 0), TAG, "counter read");
    if (floor > last) {
        last = floor;
    }
    if (last == UINT32_MAX) {
        /* 2^32 measurements is ~80000 years at 10 min; refuse to wrap rather than reuse a nonce. */
        return ESP_ERR_INVALID_STATE;
    }
    ESP_RETURN_ON_ERROR(node_storage_set_u32(KEY_COUNTER, last + 1u), TAG, "counter write");
    *counter = last + 1u;
    return ESP_OK;
}

esp_err_t node_storage_bindkey(uint8_t key[16], bool *created)
{
    size_t len = 16;
    esp_err_t err = nvs_get_blob(s_nvs, KEY_BINDKEY, key, &len);
    if (err == ESP_OK && len == 16) {
        *created = false;
        return ESP_OK;
    }
    if (err != ESP_ERR_NVS_NOT_FOUND && err != ESP_OK) {
        return err;
    }
    esp_fill_random(key, 16);
    ESP_RETURN_ON_ERROR(nvs_set_blob(s_nvs, KEY_BINDKEY, key, 16), TAG, "bindkey write");
    ESP_RETURN_ON_ERROR(nvs_commit(s_nvs), TAG, "bindkey commit");
    *created = true;
    return ESP_OK;
}

esp_err_t node_storage_load_config(pv_config_t *config)
{
    uint8_t buf[PV_CONFIG_MAX_LEN];
    size_t len = sizeof(buf);
    pv_config_defaults(config);
    const esp_err_t err = nvs_get_blob(s_nvs, KEY_CONFIG, buf, &len);
    if (err == ESP_ERR_NVS_NOT_FOUND) {
        return ESP_OK;
    }
    ESP_RETURN_ON_ERROR(err, TAG, "config read");
    /* Stored in the wire format, so a firmware update with new settings reads old blobs. */
    if (pv_config_decode(buf, len, config) != PV_OK) {
        ESP_LOGW(TAG, "stored config invalid, using defaults");
        pv_config_defaults(config);
    }
    return ESP_OK;
}

esp_err_t node_storage_save_config(const pv_config_t *config)
{
    uint8_t buf[PV_CONFIG_MAX_LEN];
    size_t len = 0;
    if (pv_config_encode(config, buf, sizeof(buf), &len) != PV_OK) {
        return ESP_ERR_INVALID_ARG;
    }
    ESP_RETURN_ON_ERROR(nvs_set_blob(s_nvs, KEY_CONFIG, buf, len), TAG, "config write");
    return nvs_commit(s_nvs);
}

esp_err_t node_storage_load_calibration(pv_moisture_calib_t *calib)
{
    uint8_t blob[PV_MOISTURE_CALIB_BLOB_LEN];
    size_t len = sizeof(blob);
    const pv_moisture_calib_t fallback = PV_MOISTURE_CALIB_DEFAULT;
    *calib = fallback;
    const esp_err_t err = nvs_get_blob(s_nvs, KEY_CALIB, blob, &len);
    if (err == ESP_ERR_NVS_NOT_FOUND) {
        ESP_LOGW(TAG, "soil probe not calibrated: using factory defaults");
        return ESP_OK;
    }
    ESP_RETURN_ON_ERROR(err, TAG, "calibration read");
    if (pv_moisture_calib_decode(blob, len, calib) != PV_OK) {
        ESP_LOGW(TAG, "stored calibration invalid: using factory defaults");
        *calib = fallback;
    }
    return ESP_OK;
}

esp_err_t node_storage_save_calibration(const pv_moisture_calib_t *calib)
{
    uint8_t blob[PV_MOISTURE_CALIB_BLOB_LEN];
    if (pv_moisture_calib_encode(calib, blob) != PV_OK || pv_moisture_calib_validate(calib) != PV_OK) {
        return ESP_ERR_INVALID_ARG;
    }
    ESP_RETURN_ON_ERROR(nvs_set_blob(s_nvs, KEY_CALIB, blob, sizeof(blob)), TAG, "calibration write");
    return nvs_commit(s_nvs);
}

pv_ring_t *node_storage_ring(void)
{
    return &s_ring;
}

void node_storage_ring_lock(void)
{
    xSemaphoreTake(s_ring_mutex, portMAX_DELAY);
}

void node_storage_ring_unlock(void)
{
    xSemaphoreGive(s_ring_mutex);
}
