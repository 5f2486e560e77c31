"""The gardener's web app (an installable PWA), served by the cloud from package files."""
