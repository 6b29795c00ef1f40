"""The items API's models as FastAPI's tutorial declares them (Debian's python3-fastapi 0.92,
pydantic v1), shared by the two FastAPI peers: items_fastapi.py (SQLite) and
items_fastapi_asyncpg.py (PostgreSQL)."""

from typing import Optional

from pydantic import BaseModel, Field, conlist, constr, validator

Name = constr(min_length=1, max_length=100)  # lengths in code points, as Python's len()
Description = constr(max_length=1000)
Tags = conlist(constr(min_length=1, max_length=50), max_items=16)


class ItemIn(BaseModel):
    name: Name
    description: Optional[Description] = None
    price: float = Field(..., gt=0)
    tax: Optional[float] = Field(None, ge=0)
    tags: Tags = []


class ItemPatch(BaseModel):
    """Every field optional; only the fields sent are applied (exclude_unset)."""

    name: Optional[Name] = None
    description: Optional[Description] = None
    price: Optional[float] = Field(None, gt=0)
    tax: Optional[float] = Field(None, ge=0)
    tags: Optional[Tags] = None

    @validator("name", "price", "tags", pre=True)
    def not_null(cls, v):  # noqa: N805 (pydantic's signature); runs only for keys sent
        if v is None:
            raise ValueError("may not be null")
        return v


class Item(ItemIn):
    id: int
