-- UpdateRegion: a region may be renamed and its cell's upstream addresses changed or removed (a
-- cell moved to new hosts, a service retired). Regions themselves are still never deleted, so
-- organisations and keys that name them cannot dangle.
GRANT UPDATE (name) ON regions TO tahe_gateway_app;
GRANT UPDATE (address), DELETE ON region_services TO tahe_gateway_app;
