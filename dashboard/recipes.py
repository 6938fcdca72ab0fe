"""What comes after output: the recipes people apply to output next (pooling, attention, a classifier's input,
merged directions), evaluated on the run, each beside the wrong way, in the output & h_n tab."""

import streamlit as st

from rnnviz.recipes import after_output
from rnnviz.relations import VERDICT_COLOURS


def recipe_markdown(recipe) -> str:
    """One recipe or lesson as one Markdown block: badge, code, its value's shape, its check or how far off it is."""
    if recipe.lesson:
        verdict = "lesson"
        if recipe.max_abs_diff is None:
            result = "wrong here: another shape"
        else:
            result = f"wrong here: max abs diff {recipe.max_abs_diff:.3g}, for sequences `{list(recipe.differs)}`"
    else:
        verdict = {True: "holds", False: "contradiction", None: "holds"}[recipe.holds]
        result = "checked: " + ("not checkable on this run" if recipe.holds is None else str(recipe.holds))
    # coloured words, not a badge: the page's badges are the relations' own
    badge = f":{VERDICT_COLOURS[verdict]}[**{'wrong way' if recipe.lesson else 'recipe'}**]"
    check = "" if recipe.check is None or recipe.lesson else f"\n```python\n{recipe.check}\n```"
    return (
        f"{badge} :small[{recipe.need} · shape `{list(recipe.value.shape)}`]\n```python\n{recipe.code}\n```\n\n"
        f":small[:gray[{recipe.note}]]\n\n:small[{result}]{check}"
    )


def recipes_ui(view):
    """The recipes for the current run, after the setup they assume."""
    st.subheader("What comes after output")
    if not view.reveal:
        st.info("Answer the question above first: the checks stay hidden until then.")
        return
    found = after_output(view.analysis.result)
    st.caption("First, on what the layer returned (a packed output padded back, the lengths as a tensor):")
    st.code(found.setup, language="python")
    for recipe in found:
        st.markdown(recipe_markdown(recipe))
