"""Playwright's sync API as its documentation writes it, beyond what codegen records for the
shop: a route handler and a dialog handler as plain `def`s, `expect.set_options`, a truth test
on `query_selector`, `expect(response)`, predicates that read a response and a console message
(tests/integration/test_web_vocabulary.py runs it
in-process and in load, tests/plugin/test_sessions.py in the pytest plugin)."""

from harness import journey


@journey
def playwright_idioms(j):
    page, expect = j.web.page, j.web.expect
    with j.step("handlers", on="web"):
        expect.set_options(timeout=8_000)

        def handle_route(route):
            response = route.fetch()
            body = response.text().replace("Sandbox Shop", "Routed Shop")
            route.fulfill(response=response, body=body)

        page.route("**/products/*", handle_route)
        page.goto("/")
        page.get_by_test_id("product-link").first.click()
        expect(page.get_by_test_id("home-link")).to_have_text("Routed Shop")
        page.unroute("**/products/*", handle_route)

        def handle_dialog(dialog):
            assert dialog.message == "Add it to the cart?"
            dialog.accept()

        page.once("dialog", handle_dialog)
        assert page.evaluate("() => confirm('Add it to the cart?')") is True
        product = page.query_selector("[data-testid=product-name]")
        if product:
            j.vars["product"] = product.text_content()
        expect(page.get_by_role("heading", level=1)).to_have_text(j.vars["product"])
        expect(page.request.get("/cart")).to_be_ok()
        # a predicate as the sync API's: it may read the response (a body, a header)
        with page.expect_response(
            lambda r: (
                r.url.endswith("/cart") and "text/html" in (r.header_value("content-type") or "")
            )
        ) as answer:
            page.goto("/cart")
        assert "<html" in answer.value.text().lower()
        with page.expect_console_message(lambda m: m.args[0].json_value() == "cart seen"):
            page.evaluate("console.log('cart seen')")
