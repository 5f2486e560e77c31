"""The daily e-mail digest: above the domains it summarises (alerts, diagnoses, hubs), it reads
their public functions and hands the message to ``cloud.notifications`` like any other event.
The notifications package knows no domain; this one is allowed to know them all."""
