"""Every query is scoped by who asks (Art. 5, 25-28; ASVS 8.2.2): another party's record is 404."""

UNIT = "653000-301001"
OTHER_UNIT = "653000-302001"


def _codes(response, field):
    assert response.status_code == 200, response.json
    return {item[field] for item in response.json["items"]}


def _account_id(party, number):
    return next(a["id"] for a in party.get("/api/v1/accounts").json["items"] if a["number"] == number)


def test_art5_province_finance_sees_every_region(as_finance):
    assert {UNIT, OTHER_UNIT} <= _codes(as_finance.get("/api/v1/indicators?limit=1000"), "unit_code")
    assert {"650000-CZ", "653000-CZ", "653001-CZ"} <= _codes(as_finance.get("/api/v1/orgs?kind=finance"), "code")


def test_art5_city_finance_sees_its_units_but_not_the_province(as_city_finance):
    orgs = _codes(as_city_finance.get("/api/v1/orgs?limit=1000"), "code")
    assert {UNIT, OTHER_UNIT, "653001-CZ"} <= orgs
    assert "650000-CZ" not in orgs


def test_art5_county_finance_sees_nothing_of_the_prefecture(as_county_finance):
    assert _codes(as_county_finance.get("/api/v1/indicators"), "unit_code") == set()
    assert _codes(as_county_finance.get("/api/v1/accounts"), "number") == set()
    assert _codes(as_county_finance.get("/api/v1/orgs"), "code") == {"653001-CZ"}


def test_art27_unit_sees_only_its_own_indicators_and_accounts(as_unit):
    assert _codes(as_unit.get("/api/v1/indicators?limit=1000"), "unit_code") == {UNIT}
    assert _codes(as_unit.get("/api/v1/accounts"), "unit_code") == {UNIT}


def test_art27_unit_gets_404_for_another_units_account(as_unit, as_city_finance):
    other = _account_id(as_city_finance, "6501000200300045678")
    response = as_unit.get(f"/api/v1/accounts/{other}")
    assert response.status_code == 404
    assert "6501000200300045678" not in response.get_data(as_text=True)


def test_art26_competent_department_sees_its_units_only(as_competent, as_other_competent):
    assert _codes(as_competent.get("/api/v1/indicators?limit=1000"), "unit_code") == {UNIT}
    assert _codes(as_other_competent.get("/api/v1/indicators?limit=1000"), "unit_code") == {OTHER_UNIT}
    assert _codes(as_competent.get("/api/v1/orgs"), "code") == {"653000-301", UNIT}


def test_art28_bank_sees_the_accounts_it_serves_and_no_indicators(as_bank, as_other_bank):
    assert _codes(as_bank.get("/api/v1/accounts"), "number") == {"3009000109200012345", "3009000109200067890"}
    assert _codes(as_other_bank.get("/api/v1/accounts"), "number") == {"6501000200300045678"}
    assert _codes(as_bank.get("/api/v1/indicators"), "unit_code") == set()


def test_art28_bank_gets_404_for_an_account_it_does_not_serve(as_bank, as_city_finance):
    other = _account_id(as_city_finance, "6501000200300045678")
    assert as_bank.get(f"/api/v1/accounts/{other}").status_code == 404


def test_art23_oversight_sees_nothing_unreferred(as_oversight):
    assert _codes(as_oversight.get("/api/v1/indicators"), "unit_code") == set()
    assert _codes(as_oversight.get("/api/v1/accounts"), "number") == set()
    assert _codes(as_oversight.get("/api/v1/orgs"), "code") == {"653000-SJ"}


def test_lists_are_keyset_paginated_with_a_cursor(as_finance):
    first = as_finance.get("/api/v1/indicators?limit=10").json
    second = as_finance.get(f"/api/v1/indicators?limit=10&cursor={first['next_cursor']}").json
    assert len(first["items"]) == 10 and first["next_cursor"]
    assert first["items"][-1]["id"] < second["items"][0]["id"]
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert ids == sorted(set(ids))


def test_limit_over_1000_is_422_naming_limit(as_finance):
    response = as_finance.get("/api/v1/indicators?limit=1001")
    assert response.status_code == 422
    assert "limit" in response.json["errors"]


def test_a_forged_cursor_is_422(as_finance):
    response = as_finance.get("/api/v1/indicators?cursor=%%%")
    assert response.status_code == 422
    assert "cursor" in response.json["errors"]
