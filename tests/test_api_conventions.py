"""The API's shared conventions: OpenAPI document, error shape, health."""


def test_openapi_document_lists_the_endpoints_without_a_token(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json["paths"]
    for path in ("/api/v1/indicators", "/api/v1/accounts", "/api/v1/orgs", "/api/v1/health"):
        assert path in paths


def test_a_browsable_api_page_is_served(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert b"swagger" in response.data.lower()


def test_unknown_paths_answer_404_in_the_error_shape(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert set(response.json) == {"code", "message", "errors"}


def test_malformed_json_is_a_clear_error(as_city_finance):
    response = as_city_finance.post("/api/v1/accounts", data="{not json", content_type="application/json")
    assert response.status_code in (400, 422)
    assert set(response.json) == {"code", "message", "errors"}


def test_health_names_the_database(client, backend):
    assert client.get("/api/v1/health").json == {"status": "ok", "database": backend}
