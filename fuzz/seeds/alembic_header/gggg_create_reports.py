"""create reports

Revision ID: gggg
Revises: eeee
Create Date: 2026-11-22 20:58:10.724285

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'gggg'
down_revision: Union[str, Sequence[str], None] = 'eeee'
branch_labels: Union[str, Sequence[str], None] = ('reports',)
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    pass


def downgrade() -> None:
    """Downgrade schema."""
    pass
