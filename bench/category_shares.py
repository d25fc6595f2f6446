"""Spend per category split by category shares shrunk towards the shop's mix, checked
against each customer's own shares on windows the holdouts do not cover.
docs/accuracy.md, "Category shares shrunk towards the shop's mix".

    python -m bench.category_shares        # prints JSON

Why: ``models.category_spend`` splits a customer's expected spend by their own category
shares so far. A customer with one order has put all of it in one or two categories, and
gets all of their expected spend there, though their next orders will land elsewhere as
often as not. The usual remedy is a prior: the shares of a customer with n orders so far
are (n x own + k x shop) / (n + k), the shop's average mix weighing as much as k orders;
k = 0 is the split as it is, an infinite k the shop's mix for everyone. How strong the
prior should be depends on the shop (a grocery household's shares after 40 baskets
hardly need it), so k is chosen on the procedure's own validation window, among 0, 1, 3,
10, 30 and infinity, as the one whose shares best split the customers' realised spend
there into their realised spend per category (summed squared error over customers and
categories; realised totals, so the choice does not depend on the spend model).

Written before it ran (2026-12-02): made if, at each of three checks, the chosen spend
split with k chosen that way has a lower summed squared error over customers and
categories than with k = 0, and the mean over categories of normalised Gini falls by no
more than 0.003. The checks, none of them a holdout the accuracy tables report: The
Complete Journey at as_of 2017-07-22 with a 71-day horizon; the demo shop at 2025-10-03
and Superstore at 2022-10-02, each with a 90-day horizon (the windows bench.seasons
scores). Otherwise it is not made and no holdout is run with it.
"""
