/* OV2640/OV5640 camera of ESP32-S3 boards through the esp32-camera component: one JPEG per call,
 * the sensor powered only while capturing. */
#pragma once

#include "esp_err.h"
#include "pv/pv_control.h"

/* Capture a JPEG and store it in image_store; *status is the Control Point status to report. */
esp_err_t camera_capture_to_store(uint32_t epoch, pv_image_entry_t *entry, pv_cp_status_t *status);
