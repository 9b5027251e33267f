def test_get_clients_empty(api):
    body = api.ok("GetClients")
    assert body == {"result": "success", "totalresults": 0, "startnumber": 0,
                    "numreturned": 0, "clients": {"client": []}}


def test_add_then_get(api):
    body = api.ok("AddClient", firstname="Ada", lastname="Lovelace", email="ada@example.com",
                  address1="1 Road", city="London", state="London", postcode="N1",
                  country="GB", phonenumber="+44 20 7946 0958")
    assert body["clientid"] == "1"
    got = api.ok("GetClients")
    assert got["clients"]["client"][0]["email"] == "ada@example.com"
