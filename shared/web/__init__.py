"""UI code both tiers serve: the chart, formatting, status words and colours, the theme.

The files live in ``static/`` (package data). The hub serves them at its ``/static/`` route
and the cloud app at ``/app/static/``, each laid over the tier's own files, so a page imports
``./format.js`` the same way on both tiers and no file exists twice."""
