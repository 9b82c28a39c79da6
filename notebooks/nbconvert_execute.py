# nbconvert configuration used by `make notebooks` (and `make report`, the tests): execute,
# then clear volatile metadata so stored notebooks diff cleanly.
#
# The notebook-level metadata left behind is exactly what JupyterLab itself writes when it
# saves a notebook on this setup: the kernelspec {display_name, language, name} of the kernel
# that ran it and the kernel's full `language_info` (as its kernel_info reply gives it), with
# nbformat 4.5. Anything less and JupyterLab marks a freshly opened notebook modified and its
# autosave rewrites the tracked file. Cell tags (the papermill `parameters` tag, nbval
# markers) are kept; execution timestamps, widget state and widget views are dropped.
from nbconvert.preprocessors import Preprocessor

c = get_config()  # noqa: F821 - provided by traitlets when the file is loaded
c.NbConvertApp.export_format = "notebook"
c.ClearMetadataPreprocessor.enabled = True
c.ClearMetadataPreprocessor.preserve_cell_metadata_mask = {"tags"}
# Full language_info as the kernel reported it while executing (nbclient stores it);
# "widgets" (saved widget state) is not in the mask: a stored widget renders from live state.
c.ClearMetadataPreprocessor.preserve_nb_metadata_mask = {"kernelspec", "language_info"}
c.ExecutePreprocessor.timeout = 1800
c.ExecutePreprocessor.kernel_name = "python3"


class JupyterLabMetadata(Preprocessor):
    """Write the kernelspec and nbformat version the way JupyterLab would.

    nbclient records `language_info` but leaves `kernelspec` as it found it, so a
    notebook saved by an older front end keeps e.g. display_name "Python 3" while
    JupyterLab writes the installed spec's "Python 3 (ipykernel)". Runs after the
    default preprocessors (execute, then clear metadata).
    """

    def preprocess(self, nb, resources):
        from jupyter_client.kernelspec import KernelSpecManager

        name = c.ExecutePreprocessor.kernel_name
        spec = KernelSpecManager().get_kernel_spec(name)
        nb.metadata["kernelspec"] = {"display_name": spec.display_name, "language": spec.language, "name": name}
        # JupyterLab 4 saves every notebook as nbformat 4.5 (cell ids).
        nb.nbformat, nb.nbformat_minor = 4, 5
        return nb, resources


class DropWidgetViews(Preprocessor):
    """Drop ``application/vnd.jupyter.widget-view+json`` from display outputs.

    Widget state is not stored, so a stored widget view could only render as "Error
    displaying widget: model not found" (and its random model id would change the file on
    every run). What stays is the rest of the bundle: labmf's explorers put a static figure
    next to their widget, which JupyterLab shows until the cell is run again.
    """

    def preprocess_cell(self, cell, resources, index):
        for out in cell.get("outputs", []):
            out.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)
        return cell, resources


c.NotebookExporter.preprocessors = [JupyterLabMetadata, DropWidgetViews]
