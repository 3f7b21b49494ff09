"""Catalog offers (filter + pagination) and single-request placement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from costplane.api import _core
from costplane.api._deps import CatalogDep, PageDep, Viewer
from costplane.api._errors import error_responses
from costplane.api._schemas import CatalogPublic, OffersPublic, PlacementCreate, PlacementsPublic

router = APIRouter(tags=["catalog"], responses=error_responses(400, 401, 403, 422))


@router.get("/catalog", response_model=CatalogPublic)
def get_catalog(_: Viewer, catalog: CatalogDep) -> dict:
    """Where the prices come from, and which GPU models and clouds they cover."""
    return _core.catalog_summary(catalog)


@router.get("/catalog/offers", response_model=OffersPublic)
def list_offers(_: Viewer, catalog: CatalogDep, page: PageDep,
                gpu: Annotated[str | None, Query(max_length=64)] = None,
                cloud: Annotated[str | None, Query(max_length=64)] = None,
                region: Annotated[str | None, Query(max_length=128)] = None) -> dict:
    """Offers of the service's catalog, filtered by GPU model, cloud and region."""
    data, count = _core.list_offers(catalog, gpu, cloud, region, page.limit, page.offset)
    return {"data": data, "count": count, "limit": page.limit, "offset": page.offset}


placement_router = APIRouter(tags=["placement"], responses=error_responses(400, 401, 403, 422))


@placement_router.post("/placements", response_model=PlacementsPublic)
def create_placement(_: Viewer, catalog: CatalogDep, body: PlacementCreate) -> dict:
    """Cheapest feasible offers for one request, ranked by total cost (422 when nothing fits)."""
    from costplane.placement import PlacementRequest, place

    fields = body.model_dump(exclude={"limit"})
    request = PlacementRequest(**{**fields, "clouds": tuple(c.lower() for c in body.clouds),
                                  "regions": tuple(body.regions)})
    return {"request": request.to_dict(), "offers": [p.to_dict() for p in place(request, catalog, limit=body.limit)]}
