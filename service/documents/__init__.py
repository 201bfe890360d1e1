"""Documents for a return: shipping labels, customs paperwork and the customer's instructions page."""
