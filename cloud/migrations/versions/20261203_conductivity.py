"""conductivity: soil conductivity (µS/cm) readings, rollups and species ranges

The registry's sixth metric: a REAL column on readings, count/min/max/sum on both rollup tables,
and conductivity_min / conductivity_max on species, seeded with the ranges gardeners use for the
probe reading of each catalog plant (lean-soil herbs and succulents low, heavy-feeding
vegetables high).

Revision ID: 0305
Revises: 0301
Create Date: 2026-12-03 17:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0305"
down_revision: str | Sequence[str] | None = "0301"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLLUPS = ("readings_hourly", "readings_daily")

# common name: (conductivity min, max) in µS/cm
RANGES: dict[str, tuple[float, float]] = {
    # foliage house plants
    **dict.fromkeys(
        (
            "Pothos",
            "Snake plant",
            "ZZ plant",
            "Monstera",
            "Spider plant",
            "Fiddle-leaf fig",
            "Rubber plant",
            "Weeping fig",
            "Heartleaf philodendron",
            "Chinese evergreen",
            "Dracaena",
            "Parlor palm",
            "Kentia palm",
            "Areca palm",
            "English ivy",
            "Bird of paradise",
            "Cast-iron plant",
            "Dumb cane",
            "Money tree",
        ),
        (350.0, 2000.0),
    ),
    # salt-sensitive house plants
    "Peace lily": (300.0, 1500.0),
    "Calathea": (200.0, 1200.0),
    "Prayer plant": (200.0, 1200.0),
    "Boston fern": (200.0, 1000.0),
    "Maidenhair fern": (200.0, 1000.0),
    "Moth orchid": (100.0, 800.0),
    "African violet": (200.0, 1000.0),
    "Anthurium": (300.0, 1200.0),
    "Bromeliad": (100.0, 600.0),
    "Peperomia": (200.0, 1200.0),
    # succulents and cacti
    "Aloe vera": (100.0, 1000.0),
    "Jade plant": (100.0, 1000.0),
    "Echeveria": (100.0, 1000.0),
    "String of pearls": (100.0, 1000.0),
    "Golden barrel cactus": (100.0, 1000.0),
    "Christmas cactus": (200.0, 1000.0),
    # balcony
    "Geranium": (500.0, 2500.0),
    "Petunia": (700.0, 2500.0),
    "Fuchsia": (400.0, 1800.0),
    "Begonia": (300.0, 1500.0),
    "Marigold": (400.0, 2000.0),
    "Hydrangea": (400.0, 2000.0),
    "Boxwood": (350.0, 2000.0),
    "Dwarf lemon": (500.0, 2000.0),
    "Olive tree": (350.0, 2000.0),
    # herbs: Mediterranean ones like lean soil
    **dict.fromkeys(("Lavender", "Rosemary", "Thyme", "Oregano"), (200.0, 1200.0)),
    "Sage": (300.0, 1500.0),
    **dict.fromkeys(("Basil", "Mint", "Parsley", "Chives"), (500.0, 2000.0)),
    "Cilantro": (400.0, 1800.0),
    # vegetables
    "Tomato": (1000.0, 3500.0),
    "Cherry tomato": (1000.0, 3500.0),
    "Sweet pepper": (800.0, 3000.0),
    "Chili pepper": (800.0, 3000.0),
    "Eggplant": (1000.0, 3000.0),
    "Cucumber": (800.0, 2500.0),
    "Zucchini": (800.0, 2500.0),
    "Pumpkin": (800.0, 2500.0),
    "Broccoli": (800.0, 2500.0),
    "Kale": (700.0, 2500.0),
    "Swiss chard": (700.0, 2500.0),
    "Spinach": (600.0, 2000.0),
    "Potato": (600.0, 2000.0),
    "Arugula": (500.0, 2000.0),
    "Onion": (500.0, 1800.0),
    "Garlic": (500.0, 1800.0),
    "Radish": (400.0, 1800.0),
    "Lettuce": (400.0, 1500.0),
    "Carrot": (400.0, 1500.0),
    "Bush bean": (400.0, 1500.0),
    "Pea": (400.0, 1500.0),
    "Strawberry": (500.0, 1500.0),
}


def upgrade() -> None:
    """Apply."""
    op.add_column("readings", sa.Column("conductivity", sa.REAL(), nullable=True))
    for table in _ROLLUPS:
        op.add_column(
            table,
            sa.Column("conductivity_count", sa.Integer(), nullable=False, server_default="0"),
        )
        op.alter_column(table, "conductivity_count", server_default=None)
        op.add_column(table, sa.Column("conductivity_min", sa.REAL(), nullable=True))
        op.add_column(table, sa.Column("conductivity_max", sa.REAL(), nullable=True))
        op.add_column(table, sa.Column("conductivity_sum", sa.Double(), nullable=True))
    op.add_column("species", sa.Column("conductivity_min", sa.Float(), nullable=True))
    op.add_column("species", sa.Column("conductivity_max", sa.Float(), nullable=True))
    update = sa.text(
        "UPDATE species SET conductivity_min = :low, conductivity_max = :high "
        "WHERE common_name = :name"
    )
    for name, (low, high) in RANGES.items():
        op.execute(update.bindparams(name=name, low=low, high=high))


def downgrade() -> None:
    """Revert."""
    op.drop_column("species", "conductivity_max")
    op.drop_column("species", "conductivity_min")
    for table in _ROLLUPS:
        for column in ("sum", "max", "min", "count"):
            op.drop_column(table, f"conductivity_{column}")
    op.drop_column("readings", "conductivity")
