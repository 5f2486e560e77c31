/* One wake of a Plant-Vita node: measure, count, store, broadcast, serve the hub, sleep.
 * Everything with a byte layout or a storage rule is pv_core's; this is the sequencing. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "ble_node.h"
#include "calibration.h"
#include "driver/gpio.h"
#if !CONFIG_IDF_TARGET_ESP32C3
#include "driver/rtc_io.h"
#endif
#include "esp_attr.h"
#include "esp_log.h"
#include "esp_pm.h"
#include "esp_sleep.h"
#include "esp_task_wdt.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "image_store.h"
#include "node_storage.h"
#include "pv/pv_board.h"
#include "pv/pv_bthome.h"
#include "pv/pv_calib.h"
#include "pv/pv_config.h"
#include "pv/pv_gatt.h"
#include "pv/pv_power.h"
#include "pv/pv_ring.h"
#include "sdkconfig.h"
#include "sensors.h"
#if CONFIG_PV_BOARD_HAS_CAMERA
#include "camera.h"
#endif

static const char *TAG = "plant_vita";

#define RETRY_SLEEP_S 60
#define BUTTON_SAMPLE_MS 10

#if CONFIG_IDF_TARGET_ESP32C3
#define PV_TARGET PV_TARGET_ESP32C3
#else
#define PV_TARGET PV_TARGET_ESP32S3
#endif

#if CONFIG_PV_BOARD_HAS_CAMERA
#define HAS_CAMERA true
#else
#define HAS_CAMERA false
#endif

#if CONFIG_PV_BOARD_HAS_CAMERA
/* Survives deep sleep (RTC slow memory), reset by power loss together with the clock. */
static RTC_DATA_ATTR uint32_t s_last_capture_epoch;
#endif
static esp_timer_handle_t s_deadline;

static pv_config_t s_config;

static uint32_t now_epoch(void)
{
    const time_t now = time(NULL);
    /* The RTC keeps time through deep sleep; after power loss it restarts at 1970. */
    return now >= (time_t)PV_TIME_MIN_EPOCH ? (uint32_t)now : 0u;
}

static uint8_t node_status(void)
{
    uint8_t status = 0;
    uint32_t pending = 0;
    uint32_t first = 0;
    uint32_t last = 0;
    node_storage_ring_lock();
    pv_ring_t *ring = node_storage_ring();
    if (pv_ring_pending(ring, &pending, &first, &last) == PV_OK &&
        (uint64_t)pending * 4u >= (uint64_t)pv_ring_capacity(ring) * 3u) {
        status |= PV_STATUS_STORAGE_HIGH;
    }
    node_storage_ring_unlock();
    if (image_store_has_images()) {
        status |= PV_STATUS_IMAGE_READY;
    }
    if (now_epoch() == 0u) {
        status |= PV_STATUS_TIME_UNSET;
    }
    return status;
}

static esp_err_t on_config(const pv_config_t *config)
{
    return node_storage_save_config(config);
}

static void on_time(uint32_t epoch)
{
    const struct timeval tv = {.tv_sec = (time_t)epoch, .tv_usec = 0};
    settimeofday(&tv, NULL);
    ESP_LOGI(TAG, "clock set to %u", (unsigned)epoch);
}

/* What the button asks for: the press that woke the node (or one held at power-on), classified by
 * pv_button. A timer wake with the button up costs one GPIO read. */
static pv_button_action_t read_button(void)
{
    const gpio_config_t button = {
        .pin_bit_mask = 1ULL << CONFIG_PV_PIN_BUTTON,
        .mode = GPIO_MODE_INPUT,
        .pull_up_en = GPIO_PULLUP_ENABLE,
    };
    gpio_config(&button);
    const bool woke_by_button = esp_sleep_get_wakeup_cause() == ESP_SLEEP_WAKEUP_GPIO ||
                                esp_sleep_get_wakeup_cause() == ESP_SLEEP_WAKEUP_EXT1;
    if (!woke_by_button && gpio_get_level(CONFIG_PV_PIN_BUTTON) != 0) {
        return PV_BUTTON_NONE;
    }
    pv_button_t state;
    pv_button_start(&state);
    while (!pv_button_feed(&state, gpio_get_level(CONFIG_PV_PIN_BUTTON) == 0, BUTTON_SAMPLE_MS)) {
        vTaskDelay(pdMS_TO_TICKS(BUTTON_SAMPLE_MS));
    }
    return state.action;
}

/* A press wakes the node from deep sleep (active low, internal pull-up kept through sleep). */
static void enable_button_wakeup(void)
{
#if CONFIG_IDF_TARGET_ESP32C3
    gpio_pullup_en(CONFIG_PV_PIN_BUTTON);
    gpio_pulldown_dis(CONFIG_PV_PIN_BUTTON);
    esp_deep_sleep_enable_gpio_wakeup(1ULL << CONFIG_PV_PIN_BUTTON, ESP_GPIO_WAKEUP_GPIO_LOW);
#else
    rtc_gpio_pullup_en(CONFIG_PV_PIN_BUTTON);
    rtc_gpio_pulldown_dis(CONFIG_PV_PIN_BUTTON);
    esp_sleep_enable_ext1_wakeup_io(1ULL << CONFIG_PV_PIN_BUTTON, ESP_EXT1_WAKEUP_ANY_LOW);
#endif
}

static void deep_sleep(uint32_t seconds)
{
    ESP_LOGI(TAG, "sleeping %u s", (unsigned)seconds);
    esp_sleep_enable_timer_wakeup((uint64_t)seconds * 1000000ULL);
    enable_button_wakeup();
    esp_deep_sleep_start();
}

/* The hard deadline: whatever hangs (nimble_port_stop() can wait forever), the node sleeps and
 * tries again at its next interval instead of staying awake until the battery is flat. */
static void on_deadline(void *arg)
{
    (void)arg;
    ESP_LOGE(TAG, "wake took longer than its deadline: sleeping regardless");
    deep_sleep(s_config.sampling_interval_s > 0u ? s_config.sampling_interval_s : RETRY_SLEEP_S);
}

static void arm_deadline(bool pairing, bool calibrating)
{
    const uint32_t ms = pv_awake_deadline_ms(&s_config, pairing, CONFIG_PV_PAIRING_WINDOW_S,
                                             CONFIG_PV_SESSION_TIMEOUT_S, HAS_CAMERA, calibrating);
    if (s_deadline == NULL) {
        const esp_timer_create_args_t args = {.callback = on_deadline, .name = "pv_deadline"};
        if (esp_timer_create(&args, &s_deadline) != ESP_OK) {
            ESP_LOGE(TAG, "no deadline timer: relying on the task watchdog");
            return;
        }
    } else {
        esp_timer_stop(s_deadline);
    }
    esp_timer_start_once(s_deadline, (uint64_t)ms * 1000ULL);
}

/* The task watchdog on the main task (CONFIG_ESP_TASK_WDT_TIMEOUT_S, panic = reboot): long waits
 * feed it in slices, a task that stops running is reset. */
static void watch_main_task(void)
{
    if (esp_task_wdt_add(NULL) != ESP_OK) {
        ESP_LOGW(TAG, "main task not under the task watchdog");
    }
}

static void announce_pairing(const uint8_t mac[6], const uint8_t key[16])
{
    char name[10];
    char pairing[PV_PAIRING_URI_MAX];
    pv_default_name(mac, name);
    if (pv_pairing_string(mac, key, name, pairing, sizeof(pairing)) != PV_OK) {
        return;
    }
    ESP_LOGW(TAG, "=== PAIRING (open for %d s) ===", CONFIG_PV_PAIRING_WINDOW_S);
    ESP_LOGW(TAG, "name    %s", name);
    ESP_LOGW(TAG, "mac     %02X:%02X:%02X:%02X:%02X:%02X", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    ESP_LOG_BUFFER_HEX_LEVEL(TAG, key, 16, ESP_LOG_WARN);
    /* Paste into the hub's pairing form, or render as a QR code (e.g. `qrencode -t ansi`). */
    ESP_LOGW(TAG, "pairing %s", pairing);
}

static void maybe_capture(uint32_t epoch)
{
#if CONFIG_PV_BOARD_HAS_CAMERA
    if (epoch == 0u || !pv_config_capture_due(&s_config, epoch, s_last_capture_epoch)) {
        return;
    }
    pv_image_entry_t entry;
    pv_cp_status_t status;
    if (camera_capture_to_store(epoch, &entry, &status) == ESP_OK) {
        s_last_capture_epoch = epoch;
    } else if (status == PV_CP_STORAGE_FULL) {
        /* The hub has not fetched images for a while; try again at the next schedule. */
        s_last_capture_epoch = epoch;
        ESP_LOGW(TAG, "image store full, scheduled capture skipped");
    }
#else
    (void)epoch;
#endif
}

/* Light sleep between radio events; the XTAL frequency is the lowest the BLE controller allows. */
static void enable_power_management(void)
{
    const esp_pm_config_t pm = {
        .max_freq_mhz = CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ,
        .min_freq_mhz = 40,
        .light_sleep_enable = true,
    };
    const esp_err_t err = esp_pm_configure(&pm);
    if (err != ESP_OK) {
        ESP_LOGW(TAG, "power management not enabled: %s", esp_err_to_name(err));
    }
}

/* Encode, count, store: the measurement gets the next seq (persisted before use, above anything in
 * the ring), lands in the ring whole, and its encrypted advert is built from the objects that
 * seq's advert carries (pv_bthome_advert_present). False when there is nothing to
 * send (every sensor failed) or the counter cannot be persisted; no seq is spent then. */
static bool record_measurement(const pv_reading_t *reading, const uint8_t key[16], const uint8_t mac[6],
                               uint32_t epoch, uint8_t adv[PV_ADV_MAX_LEN], size_t *adv_len)
{
    uint8_t objects[PV_BTHOME_MAX_OBJECTS_LEN];
    size_t objects_len = 0;
    if (pv_bthome_encode_objects(reading, objects, sizeof(objects), &objects_len) != PV_OK ||
        objects_len == 0u) {
        ESP_LOGE(TAG, "no sensor produced a valid value: nothing to broadcast");
        return false;
    }
    node_storage_ring_lock();
    const uint32_t ring_last = node_storage_ring()->last_seq;
    node_storage_ring_unlock();
    uint32_t counter = 0;
    if (node_storage_next_counter(ring_last, &counter) != ESP_OK) {
        ESP_LOGE(TAG, "counter cannot be persisted: not broadcasting");
        return false;
    }
    /* The ring keeps the whole measurement; the advert carries what fits (this counter's half). */
    uint8_t advert_objects[PV_BTHOME_ADVERT_OBJECTS_MAX];
    size_t advert_objects_len = 0;
    uint8_t service_data[PV_ADV_MAX_LEN];
    size_t service_len = 0;
    if (pv_bthome_encode_advert_objects(reading, counter, advert_objects, sizeof(advert_objects),
                                        &advert_objects_len) != PV_OK ||
        pv_bthome_service_data_encrypt(key, mac, PV_BTHOME_DEVINFO_VERSION_2, counter, advert_objects,
                                       advert_objects_len, service_data, sizeof(service_data),
                                       &service_len) != PV_OK ||
        pv_adv_build(service_data, service_len, adv, PV_ADV_MAX_LEN, adv_len) != PV_OK) {
        ESP_LOGE(TAG, "advert for seq %u could not be built", (unsigned)counter);
        return false;
    }
    node_storage_ring_lock();
    const pv_status_t stored = pv_ring_append(node_storage_ring(), counter, epoch, objects, objects_len);
    const uint32_t dropped = node_storage_ring()->dropped_records;
    node_storage_ring_unlock();
    if (stored != PV_OK) {
        /* Still broadcast: a listening hub gets the reading even if the backfill copy is lost. */
        ESP_LOGE(TAG, "record %u not stored (%d)", (unsigned)counter, (int)stored);
    }
    if (dropped > 0u) {
        ESP_LOGW(TAG, "%u unacknowledged records overwritten: the hub has been away too long",
                 (unsigned)dropped);
    }
    ESP_LOGI(TAG, "seq %u, %u object bytes, epoch %u", (unsigned)counter, (unsigned)objects_len,
             (unsigned)epoch);
    return true;
}

void app_main(void)
{
    watch_main_task();
    arm_deadline(false, false);
    if (pv_gpio_is_strapping(PV_TARGET, CONFIG_PV_PIN_BUTTON)) {
        ESP_LOGE(TAG, "button on strapping GPIO%d: a press at reset starts the ROM download mode",
                 CONFIG_PV_PIN_BUTTON);
    }
    enable_power_management();
    if (node_storage_init() != ESP_OK) {
        deep_sleep(RETRY_SLEEP_S);
    }
    node_storage_load_config(&s_config);
    pv_moisture_calib_t calib;
    node_storage_load_calibration(&calib);
    /* A sensor that fails to initialise is left out of the adverts; the node still reports the rest. */
    if (sensors_init() != ESP_OK) {
        ESP_LOGE(TAG, "sensor initialisation incomplete");
    }
    if (image_store_init() != ESP_OK) {
        ESP_LOGE(TAG, "image store unavailable");
    }

    const pv_button_action_t button = read_button();
    if (button == PV_BUTTON_CALIBRATION) {
        arm_deadline(false, true);
        esp_task_wdt_delete(NULL); /* the procedure waits on the gardener; the deadline bounds it */
        calibration_run(&calib);
        watch_main_task();
    }

    pv_reading_t reading;
    sensors_measure(&calib, &reading);

    ble_node_app_t app = {
        .info =
            {
                .protocol_version = PV_PROTOCOL_VERSION,
                .capabilities = sensors_capabilities(),
                .max_image_size = image_store_max_size(),
                .record_capacity = pv_ring_capacity(node_storage_ring()),
            },
        .battery_pct = reading.battery_pct,
        .config = &s_config,
        .config_changed = on_config,
        .time_changed = on_time,
        .status = node_status,
    };
    snprintf(app.info.firmware_version, sizeof(app.info.firmware_version), "%s", CONFIG_PV_FIRMWARE_VERSION);
    if (ble_node_start(&app) != ESP_OK) {
        ESP_LOGE(TAG, "BLE did not start");
        deep_sleep(RETRY_SLEEP_S);
    }

    /* After the radio is up, so the bindkey comes from the true RNG. */
    uint8_t key[16];
    bool first_boot = false;
    uint8_t mac[6];
    ble_node_mac(mac);
    if (node_storage_bindkey(key, &first_boot) != ESP_OK) {
        deep_sleep(RETRY_SLEEP_S);
    }
    const bool pairing = first_boot || button == PV_BUTTON_PAIRING;
    arm_deadline(pairing, button == PV_BUTTON_CALIBRATION);
    ble_node_allow_pairing(pairing);
    if (pairing) {
        announce_pairing(mac, key);
    }

    uint8_t adv[PV_ADV_MAX_LEN];
    size_t adv_len = 0;
    const uint32_t epoch = now_epoch();
    const bool measured = record_measurement(&reading, key, mac, epoch, adv, &adv_len);
    if (!measured) {
        /* Nothing to broadcast, but the hub may still want to backfill, configure or fetch photos:
         * stay reachable with a Flags-only advert (the scan response still names the node). */
        static const uint8_t flags_only[] = {0x02, 0x01, 0x06};
        memcpy(adv, flags_only, sizeof(flags_only));
        adv_len = sizeof(flags_only);
    }

    maybe_capture(epoch);

    if (measured) {
        ble_node_burst(adv, adv_len, s_config.advert_burst_count, s_config.advert_burst_interval_ms);
    }
    const uint32_t window = pairing ? CONFIG_PV_PAIRING_WINDOW_S : s_config.connectable_window_s;
    ble_node_connectable_window(adv, adv_len, window);
    esp_task_wdt_reset();
    ble_node_stop();

    uint32_t sleep_s = pv_config_next_interval_s(
        &s_config, (reading.present & PV_HAS_MOISTURE) != 0, reading.moisture_centi_pct,
        (reading.present & PV_HAS_TEMPERATURE) != 0, reading.temperature_centi_c);
#if CONFIG_PV_BOARD_HAS_CAMERA
    const uint32_t now = now_epoch();
    if (now != 0u) {
        const uint32_t to_capture = pv_config_seconds_to_next_capture(&s_config, now, s_last_capture_epoch);
        if (to_capture != PV_CAPTURE_NEVER && to_capture > 0u && to_capture < sleep_s) {
            sleep_s = to_capture;
        }
    }
#endif
    deep_sleep(sleep_s);
}
