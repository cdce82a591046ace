"""``GET /api/qr`` (placeholder until the QR module lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["qr"])
