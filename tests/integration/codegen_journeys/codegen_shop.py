"""A journey pasted from `playwright codegen --target python` against the sandbox: the
recorded lines as they came, with `page` read as `j.web.page` and `expect` as `j.web.expect`
(tests/integration/test_web_vocabulary.py runs it in-process, in load and in the pytest plugin)."""

import re

from harness import journey


@journey
def codegen_buy(j):
    page, expect = j.web.page, j.web.expect
    with j.step("sign up", on="web"):
        # recorded by `playwright codegen --target python`, `page`/`expect` as above
        page.goto("/signup")
        page.get_by_label("Name").click()
        page.get_by_label("Name").fill(j.user.name)
        page.get_by_label("Email").fill(j.user.email)
        page.get_by_label("Password").fill(j.user.password)
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_test_id("user-name")).to_be_visible()
    with j.step("add to cart", on="web"):
        page.goto("/")
        page.get_by_test_id("product-link").first.click()
        page.get_by_role("button", name="Add to cart").click()
        expect(page.get_by_test_id("cart-notice")).to_contain_text("Added")
    with j.step("checkout", on="web"):
        page.get_by_test_id("cart-link").click()
        expect(page.get_by_test_id("cart-item")).to_have_count(1)
        page.get_by_role("link", name="Checkout").click()
        page.get_by_label("Card number").fill(j.synth.card.number)
        page.get_by_label("Expiry (MM/YY)").fill(j.synth.card.expiry)
        page.get_by_label("CVC").fill(j.synth.card.cvc)
        page.get_by_role("button", name="Place order").click()
        expect(page).to_have_url(re.compile(r".*/orders/\d+"))
        expect(page.get_by_test_id("order-status")).to_have_text("paid")
        # the harness's own helpers and locators mix with it
        assert j.web.locator("[data-testid=order-id]").count() == 1
        assert j.web.get_by_test_id("order-status").text_content() == "paid"
