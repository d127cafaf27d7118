import QtQuick
import QtTest
import Daub.Ui

Item {
    id: host
    width: 360
    height: 480

    InitImagePreview {
        id: preview
        width: 340
    }

    SignalSpy { id: removeSpy; target: preview; signalName: "removeRequested" }
    SignalSpy { id: modeSpy; target: preview; signalName: "resizeModeSelected" }
    SignalSpy { id: upscaleSpy; target: preview; signalName: "upscaleRequested" }

    TestCase {
        name: "InitImagePreview"
        when: windowShown

        readonly property string fixtureImage: "file://" + fixturesDir + "/golden/init_64x64.png"

        function init() {
            preview.source = ""
            preview.name = ""
            preview.imageWidth = 0
            preview.imageHeight = 0
            preview.targetWidth = 512
            preview.targetHeight = 512
            preview.resizeMode = "stretch"
            preview.canUpscale = false
            removeSpy.clear()
            modeSpy.clear()
            upscaleSpy.clear()
        }

        function test_upscale_button_needs_an_upscaler() {
            preview.source = fixtureImage
            preview.imageWidth = 64
            preview.imageHeight = 64
            const button = findChild(preview, "upscaleInitButton")
            verify(button.visible)
            verify(!button.enabled)
            mouseClick(button)
            compare(upscaleSpy.count, 0)
            preview.canUpscale = true
            verify(button.enabled)
            mouseClick(button)
            compare(upscaleSpy.count, 1)
        }

        function test_hidden_without_image() {
            verify(!preview.visible)
        }

        function test_shows_image_size_and_target() {
            preview.source = fixtureImage
            preview.name = "init_64x64.png"
            preview.imageWidth = 64
            preview.imageHeight = 64
            verify(preview.visible)
            const thumbnail = findChild(preview, "thumbnail")
            tryCompare(thumbnail, "status", Image.Ready)
            compare(thumbnail.implicitWidth, 64)
            compare(findChild(preview, "sizeLabel").text, "init_64x64.png \u00b7 64\u00d764")
            compare(findChild(preview, "resizeLabel").text, "Will be resized to 512\u00d7512")
            preview.targetWidth = 64
            preview.targetHeight = 64
            compare(findChild(preview, "resizeLabel").text, "Used at its own size")
        }

        function test_new_image_replaces_old() {
            preview.source = fixtureImage
            preview.name = "init_64x64.png"
            preview.imageWidth = 64
            preview.imageHeight = 64
            const thumbnail = findChild(preview, "thumbnail")
            tryCompare(thumbnail, "status", Image.Ready)
            preview.source = "qrc:/daub/icons/daub.svg"
            preview.name = "daub.svg"
            preview.imageWidth = 256
            preview.imageHeight = 256
            tryCompare(thumbnail, "status", Image.Ready)
            compare(String(thumbnail.source), "qrc:/daub/icons/daub.svg")
            compare(findChild(preview, "sizeLabel").text, "daub.svg \u00b7 256\u00d7256")
        }

        function test_resize_modes_change_the_frame() {
            preview.source = fixtureImage
            preview.imageWidth = 64
            preview.imageHeight = 64
            preview.targetWidth = 768
            preview.targetHeight = 512
            const thumbnail = findChild(preview, "thumbnail")
            compare(thumbnail.fillMode, Image.Stretch)
            mouseClick(findChild(preview, "mode_crop"))
            compare(modeSpy.count, 1)
            compare(modeSpy.signalArguments[0][0], "crop")
            preview.resizeMode = "crop"
            compare(thumbnail.fillMode, Image.PreserveAspectCrop)
            preview.resizeMode = "fit"
            compare(thumbnail.fillMode, Image.PreserveAspectFit)
        }

        function test_remove_button() {
            preview.source = fixtureImage
            waitForRendering(preview)
            mouseClick(findChild(preview, "removeButton"))
            compare(removeSpy.count, 1)
        }
    }
}
