"""BLE gateway: bleak scanning and GATT sessions, plus emulated nodes on Bumble."""
