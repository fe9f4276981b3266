# Django's zh_Hant formats group digits by four with no separator ("16000"). Prices and message counts in
# Taiwan are written in threes with a comma (NT$1,200, 6,000 則), as LINE's own pages do, so `intcomma`
# prints that in both languages. Everything else (dates, inputs) falls through to Django's zh_Hant module.
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
