"""Numbers no engine stores (integers past 64 bits, NaN and the infinities) are refused at
the API, on both engines alike, in RAGFlow's words."""

import pytest

BIG = 2 ** 63


def send(current, method, url, text):
    return current.client.open(url, method=method, data=text, headers=current.headers,
                               content_type="application/json")


TOO_LARGE = f"Input should be less than or equal to {BIG - 1}"


@pytest.mark.parametrize("parser_config, shown, message", [
    (f'{{"raptor": {{"random_seed": {BIG}}}}}', "raptor.random_seed", TOO_LARGE),
    (f'{{"task_page_size": {"1" * 40}}}', "task_page_size", TOO_LARGE),
    (f'{{"pages": [[1, {BIG}]]}}', "pages.0.1", TOO_LARGE),
    (f'{{"pages": [[{-BIG - 1}, 1]]}}', "pages.0.0",
     f"Input should be greater than or equal to {-BIG}"),
])
def test_an_integer_past_64_bits_is_refused(current, parser_config, shown, message):
    shown = f"parser_config.{shown}"
    body = f'{{"name": "kb", "parser_config": {parser_config}}}'
    response = send(current, "POST", current.URL, body)
    assert response.status_code == 200
    assert response.json["code"] == 101
    assert response.json["message"].startswith(f"Field: <{shown}> - Message: <{message}>")
    made = current.made("kb")
    body = f'{{"parser_config": {parser_config}}}'
    response = send(current, "PUT", f"{current.URL}/{made['id']}", body)
    assert response.json["code"] == 101
    assert response.json["message"].startswith(f"Field: <{shown}> - Message: <{message}>")
    assert current.get(made["id"]).json["data"]["parser_config"] == made["parser_config"]


def test_the_largest_numbers_stored_are_taken_and_read_back(current):
    made = current.made("kb", parser_config={"raptor": {"random_seed": BIG - 1},
                                              "pages": [[-BIG, BIG - 1]]})
    got = current.get(made["id"]).json["data"]["parser_config"]
    assert got["raptor"]["random_seed"] == BIG - 1 and got["pages"] == [[-BIG, BIG - 1]]


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN", "1" + "0" * 400])
def test_a_float_field_refuses_what_is_not_finite(current, value):
    response = send(current, "POST", current.URL,
                    f'{{"name": "kb", "parser_config": {{"filename_embd_weight": {value}}}}}')
    assert response.json["code"] == 101
    assert "Field: <parser_config.filename_embd_weight> - Message: <Input should be" in \
        response.json["message"]
    assert current.list().json["data"] == []
