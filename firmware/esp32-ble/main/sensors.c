#include "sensors.h"

#include <stdbool.h>
#include <string.h>

#include "driver/gpio.h"
#include "driver/i2c_master.h"
#include "esp_adc/adc_cali.h"
#include "esp_adc/adc_cali_scheme.h"
#include "esp_adc/adc_oneshot.h"
#include "esp_check.h"
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "pv/pv_board.h"
#include "pv/pv_gatt.h"
#include "sdkconfig.h"

static const char *TAG = "pv_sensors";

#define ADC_SAMPLES 16
#define SENSOR_SETTLE_MS 50     /* probe oscillator and SHT3x power-up (datasheet: 1 ms, probe ~20) */
#define I2C_TIMEOUT_MS 50
#define SHT3X_MEASURE_MS 16     /* single shot, high repeatability: 15.5 ms max */
#define BH1750_MEASURE_MS 180   /* one-time H-resolution mode: 180 ms max */
#if CONFIG_IDF_TARGET_ESP32C3
#define PV_TARGET PV_TARGET_ESP32C3
#else
#define PV_TARGET PV_TARGET_ESP32S3
#endif

static adc_oneshot_unit_handle_t s_adc;
static adc_cali_handle_t s_cali;
static i2c_master_bus_handle_t s_bus;
static i2c_master_dev_handle_t s_sht3x;
static i2c_master_dev_handle_t s_bh1750;
static uint16_t s_caps;

/* The bus pull-ups follow the sensors' power: pulled up to 3.3 V while the sensors are off, SDA and
 * SCL would feed them through their ESD diodes (leakage, and a half-powered SHT3x can hold SDA). */
static void i2c_pullups(bool on)
{
    const gpio_pull_mode_t mode = on ? GPIO_PULLUP_ONLY : GPIO_FLOATING;
    gpio_set_pull_mode(CONFIG_PV_PIN_I2C_SDA, mode);
    gpio_set_pull_mode(CONFIG_PV_PIN_I2C_SCL, mode);
}

void sensors_power(int on)
{
#if CONFIG_PV_PIN_SENSOR_POWER >= 0
    if (!on) {
        i2c_pullups(false);
    }
    gpio_set_level(CONFIG_PV_PIN_SENSOR_POWER, on ? 1 : 0);
    if (on) {
        vTaskDelay(pdMS_TO_TICKS(SENSOR_SETTLE_MS));
        i2c_pullups(true);
    }
#else
    (void)on;
#endif
}

static esp_err_t adc_init(void)
{
    const adc_oneshot_unit_init_cfg_t unit = {.unit_id = ADC_UNIT_1, .ulp_mode = ADC_ULP_MODE_DISABLE};
    ESP_RETURN_ON_ERROR(adc_oneshot_new_unit(&unit, &s_adc), TAG, "adc unit");
    /* 12 dB: full scale ~3.1 V, covers the probe (0.9-2.8 V) and a halved Li-ion cell. */
    const adc_oneshot_chan_cfg_t chan = {.atten = ADC_ATTEN_DB_12, .bitwidth = ADC_BITWIDTH_DEFAULT};
    ESP_RETURN_ON_ERROR(adc_oneshot_config_channel(s_adc, CONFIG_PV_ADC_CHANNEL_MOISTURE, &chan), TAG,
                        "moisture channel");
    ESP_RETURN_ON_ERROR(adc_oneshot_config_channel(s_adc, CONFIG_PV_ADC_CHANNEL_BATTERY, &chan), TAG,
                        "battery channel");
    /* eFuse-based curve fitting for millivolts, not raw counts. On S3 and C3 it does not depend on
     * the channel, so one handle serves both inputs. */
    const adc_cali_curve_fitting_config_t cali = {
        .unit_id = ADC_UNIT_1,
        .chan = CONFIG_PV_ADC_CHANNEL_MOISTURE,
        .atten = ADC_ATTEN_DB_12,
        .bitwidth = ADC_BITWIDTH_DEFAULT,
    };
    if (adc_cali_create_scheme_curve_fitting(&cali, &s_cali) != ESP_OK) {
        /* Early chips without eFuse calibration data: fall back to the nominal transfer curve. */
        ESP_LOGW(TAG, "no ADC calibration in eFuse: readings may be off by up to ~5 %%");
        s_cali = NULL;
    }
    return ESP_OK;
}

static esp_err_t adc_read_mv(int channel, uint16_t *mv)
{
    int sum = 0;
    for (int i = 0; i < ADC_SAMPLES; i++) {
        int raw = 0;
        ESP_RETURN_ON_ERROR(adc_oneshot_read(s_adc, (adc_channel_t)channel, &raw), TAG, "adc read");
        sum += raw;
    }
    int out_mv = 0;
    if (s_cali != NULL) {
        ESP_RETURN_ON_ERROR(adc_cali_raw_to_voltage(s_cali, sum / ADC_SAMPLES, &out_mv), TAG, "adc cali");
    } else {
        /* Each chip's own transfer curve: the C3 tops out near 2.5 V, the S3 near 3.1 V. */
        out_mv = (sum / ADC_SAMPLES) * (int)pv_adc_nominal_full_scale_mv(PV_TARGET) / 4095;
    }
    *mv = (uint16_t)(out_mv < 0 ? 0 : out_mv);
    return ESP_OK;
}

esp_err_t sensors_probe_pin_mv(uint16_t *mv)
{
    return adc_read_mv(CONFIG_PV_ADC_CHANNEL_MOISTURE, mv);
}

esp_err_t sensors_probe_mv(uint16_t *mv)
{
    uint16_t pin_mv = 0;
    ESP_RETURN_ON_ERROR(sensors_probe_pin_mv(&pin_mv), TAG, "probe");
    if (pv_adc_clipped(PV_TARGET, pin_mv)) {
        return ESP_ERR_INVALID_SIZE; /* beyond the ADC: a C3 without the probe divider */
    }
    *mv = pv_probe_mv_from_adc(pin_mv, CONFIG_PV_PROBE_R_TOP_OHM, CONFIG_PV_PROBE_R_BOTTOM_OHM);
    return ESP_OK;
}

static esp_err_t i2c_init(void)
{
    const i2c_master_bus_config_t bus = {
        .i2c_port = I2C_NUM_0,
        .sda_io_num = CONFIG_PV_PIN_I2C_SDA,
        .scl_io_num = CONFIG_PV_PIN_I2C_SCL,
        .clk_source = I2C_CLK_SRC_DEFAULT,
        .glitch_ignore_cnt = 7,
        .flags.enable_internal_pullup = true, /* boards should still fit 4.7k externals */
    };
    ESP_RETURN_ON_ERROR(i2c_new_master_bus(&bus, &s_bus), TAG, "i2c bus");
    const i2c_device_config_t sht = {
        .dev_addr_length = I2C_ADDR_BIT_LEN_7,
        .device_address = SENSORS_SHT3X_ADDR,
        .scl_speed_hz = 100000,
    };
    ESP_RETURN_ON_ERROR(i2c_master_bus_add_device(s_bus, &sht, &s_sht3x), TAG, "sht3x");
    const i2c_device_config_t bh = {
        .dev_addr_length = I2C_ADDR_BIT_LEN_7,
        .device_address = SENSORS_BH1750_ADDR,
        .scl_speed_hz = 100000,
    };
    return i2c_master_bus_add_device(s_bus, &bh, &s_bh1750);
}

esp_err_t sensors_init(void)
{
#if CONFIG_PV_PIN_SENSOR_POWER >= 0
    const gpio_config_t power = {
        .pin_bit_mask = 1ULL << CONFIG_PV_PIN_SENSOR_POWER,
        .mode = GPIO_MODE_OUTPUT,
    };
    ESP_RETURN_ON_ERROR(gpio_config(&power), TAG, "power pin");
#endif
    /* Each bus on its own: a broken ADC must not cost the I2C sensors, and vice versa. */
    const esp_err_t adc_err = adc_init();
    const esp_err_t i2c_err = i2c_init();
    if (adc_err == ESP_OK) {
        s_caps = PV_CAP_MOISTURE | PV_CAP_BATTERY;
    }
    if (i2c_err != ESP_OK) {
#if CONFIG_PV_BOARD_HAS_CAMERA
        s_caps |= PV_CAP_CAMERA;
#endif
        return i2c_err;
    }
    sensors_power(1);
    if (i2c_master_probe(s_bus, SENSORS_SHT3X_ADDR, I2C_TIMEOUT_MS) == ESP_OK) {
        s_caps |= PV_CAP_TEMPERATURE_HUMIDITY;
    } else {
        ESP_LOGW(TAG, "no SHT3x at 0x%02x", SENSORS_SHT3X_ADDR);
    }
    if (i2c_master_probe(s_bus, SENSORS_BH1750_ADDR, I2C_TIMEOUT_MS) == ESP_OK) {
        s_caps |= PV_CAP_ILLUMINANCE;
    } else {
        ESP_LOGW(TAG, "no BH1750 at 0x%02x", SENSORS_BH1750_ADDR);
    }
#if CONFIG_PV_BOARD_HAS_CAMERA
    s_caps |= PV_CAP_CAMERA;
#endif
    sensors_power(0);
    return adc_err;
}

uint16_t sensors_capabilities(void)
{
    return s_caps;
}

static esp_err_t sht3x_read(int16_t *t_centi, uint16_t *rh_centi)
{
    const uint8_t cmd[2] = {0x24, 0x00}; /* single shot, high repeatability, no clock stretching */
    ESP_RETURN_ON_ERROR(i2c_master_transmit(s_sht3x, cmd, sizeof(cmd), I2C_TIMEOUT_MS), TAG, "sht3x cmd");
    vTaskDelay(pdMS_TO_TICKS(SHT3X_MEASURE_MS));
    uint8_t frame[6];
    ESP_RETURN_ON_ERROR(i2c_master_receive(s_sht3x, frame, sizeof(frame), I2C_TIMEOUT_MS), TAG,
                        "sht3x read");
    return pv_sht3x_convert(frame, t_centi, rh_centi) == PV_OK ? ESP_OK : ESP_ERR_INVALID_CRC;
}

static esp_err_t bh1750_start(void)
{
    const uint8_t power_on = 0x01;
    const uint8_t one_time_h = 0x20; /* one-time high resolution: powers down by itself after */
    ESP_RETURN_ON_ERROR(i2c_master_transmit(s_bh1750, &power_on, 1, I2C_TIMEOUT_MS), TAG, "bh1750 on");
    return i2c_master_transmit(s_bh1750, &one_time_h, 1, I2C_TIMEOUT_MS);
}

static esp_err_t bh1750_read(uint32_t *centi_lux)
{
    uint8_t raw[2];
    ESP_RETURN_ON_ERROR(i2c_master_receive(s_bh1750, raw, sizeof(raw), I2C_TIMEOUT_MS), TAG, "bh1750 read");
    *centi_lux = pv_bh1750_centi_lux((uint16_t)((raw[0] << 8) | raw[1]));
    return ESP_OK;
}

esp_err_t sensors_measure(const pv_moisture_calib_t *calib, pv_reading_t *reading)
{
    memset(reading, 0, sizeof(*reading));
    sensors_power(1);

    /* Start the slow light conversion first and measure the rest meanwhile. */
    const TickType_t light_started = xTaskGetTickCount();
    const bool light_ok = (s_caps & PV_CAP_ILLUMINANCE) != 0 && bh1750_start() == ESP_OK;

    uint16_t probe_mv = 0;
    if ((s_caps & PV_CAP_MOISTURE) != 0 && sensors_probe_pin_mv(&probe_mv) == ESP_OK) {
        if (pv_moisture_from_adc(calib, PV_TARGET, probe_mv, CONFIG_PV_PROBE_R_TOP_OHM,
                                 CONFIG_PV_PROBE_R_BOTTOM_OHM, &reading->moisture_centi_pct) == PV_OK) {
            reading->present |= PV_HAS_MOISTURE;
        } else {
            ESP_LOGW(TAG, "probe at %u mV clips the ADC: fit the probe divider (firmware README)", probe_mv);
        }
    }

    uint16_t divider_mv = 0;
    if ((s_caps & PV_CAP_BATTERY) != 0 && adc_read_mv(CONFIG_PV_ADC_CHANNEL_BATTERY, &divider_mv) == ESP_OK) {
        const uint32_t cell_mv = pv_battery_mv_from_divider(divider_mv, CONFIG_PV_BATTERY_R_TOP_OHM,
                                                            CONFIG_PV_BATTERY_R_BOTTOM_OHM);
        reading->battery_pct = pv_battery_pct_lipo(cell_mv);
        reading->present |= PV_HAS_BATTERY;
        ESP_LOGI(TAG, "battery %u mV (%u %%)", (unsigned)cell_mv, reading->battery_pct);
    }

    if ((s_caps & PV_CAP_TEMPERATURE_HUMIDITY) != 0 &&
        sht3x_read(&reading->temperature_centi_c, &reading->humidity_centi_pct) == ESP_OK &&
        reading->temperature_centi_c >= -4000 && reading->temperature_centi_c <= 8500) {
        reading->present |= PV_HAS_TEMPERATURE | PV_HAS_HUMIDITY;
    }

    if (light_ok) {
        const TickType_t elapsed = xTaskGetTickCount() - light_started;
        if (elapsed < pdMS_TO_TICKS(BH1750_MEASURE_MS)) {
            vTaskDelay(pdMS_TO_TICKS(BH1750_MEASURE_MS) - elapsed);
        }
        if (bh1750_read(&reading->illuminance_centi_lux) == ESP_OK) {
            reading->present |= PV_HAS_ILLUMINANCE;
        }
    }

    sensors_power(0);
    ESP_LOGI(TAG, "probe %u mV -> moisture %u.%02u %%, T %d cC, RH %u c%%, light %u clx", probe_mv,
             reading->moisture_centi_pct / 100u, reading->moisture_centi_pct % 100u,
             reading->temperature_centi_c, reading->humidity_centi_pct,
             (unsigned)reading->illuminance_centi_lux);
    return ESP_OK;
}
