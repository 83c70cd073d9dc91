"""report on orders

Revision ID: hhhh
Revises: gggg
Create Date: 2026-11-22 20:58:11.910284

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'hhhh'
down_revision: Union[str, Sequence[str], None] = 'gggg'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = 'bbbb'


def upgrade() -> None:
    """Upgrade schema."""
    pass


def downgrade() -> None:
    """Downgrade schema."""
    pass
